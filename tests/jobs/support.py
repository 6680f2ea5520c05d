"""Helpers for the job queue tests: committed enqueues and fresh reads of job rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from heedful.core.clock import Clock
from heedful.jobs import queue
from heedful.storage.db import Database
from heedful.storage.models import Job


def enqueue_job(
    db: Database,
    clock: Clock,
    kind: str,
    payload: dict[str, Any] | None = None,
    **options: Any,
) -> int:
    """Enqueue one job in its own committed transaction; returns its id."""
    with db.transaction() as session:
        return queue.enqueue(session, clock, kind, payload or {}, company_id=None, **options).id


def load_job(db: Database, job_id: int) -> Job:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None, f"job {job_id} does not exist"
        return job


def job_count(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0
