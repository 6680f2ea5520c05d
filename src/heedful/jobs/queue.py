"""Enqueueing. A job is a row written in the caller's transaction: no commit, no job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heedful.core.clock import Clock
from heedful.storage.models import Job

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"
STATES = (QUEUED, RUNNING, DONE, DEAD)


def enqueue(
    session: Session,
    clock: Clock,
    kind: str,
    payload: dict[str, Any],
    *,
    company_id: int | None,
    delay: timedelta = timedelta(0),
    max_attempts: int | None = None,
) -> Job:
    if max_attempts is not None and max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
    now = clock.now()
    job = Job(
        company_id=company_id,
        kind=kind,
        payload=payload,
        state=QUEUED,
        attempts=0,
        max_attempts=max_attempts,
        run_at=now + delay,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def counts_by_state(session: Session) -> dict[str, int]:
    # Unscoped on purpose: an operator-level gauge across every company.
    rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
    counts = dict.fromkeys(STATES, 0)
    counts.update({state: count for state, count in rows})
    return counts
