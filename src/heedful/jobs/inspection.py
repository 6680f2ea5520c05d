"""The operator's view of the queue: list jobs, and send a dead one back to be run again.

Unscoped on purpose: only the operator (admin API, CLI) calls this, across companies.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heedful.core import ids
from heedful.core.clock import Clock
from heedful.errors import Conflict, InvalidRequest, NotFound
from heedful.jobs.queue import DEAD, QUEUED, STATES
from heedful.jobs.registry import failed_kind
from heedful.storage.models import Company, Job

MAX_LIMIT = 500


def list_jobs(
    session: Session,
    *,
    state: str | None = None,
    kind: str | None = None,
    company_id: int | None = None,
    limit: int = 100,
    default_max_attempts: int,
) -> list[dict[str, Any]]:
    """Newest first. `default_max_attempts`: the worker's, shown for jobs that set none."""
    if state is not None and state not in STATES:
        raise InvalidRequest(f"`state` must be one of {', '.join(STATES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be a whole number from 1 to {MAX_LIMIT}")
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(Job.state == state)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    if company_id is not None:
        # A mistyped company is a 404, not an empty list that looks like "no jobs".
        if session.get(Company, company_id) is None:
            raise NotFound(f"No company '{ids.COMPANY.encode(company_id)}'")
        stmt = stmt.where(Job.company_id == company_id)
    return [job_view(job, default_max_attempts) for job in session.scalars(stmt)]


def retry_job(
    session: Session, clock: Clock, job_id: int, *, default_max_attempts: int
) -> dict[str, Any]:
    """Queue a dead job again, due now, with all its attempts; its last error stays until it
    runs. 404 for an unknown id; 409 for a job that is not dead, or whose failure already
    ran its `<kind>.failed` follow-up (see `_refuse_after_follow_up`)."""
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None:
        raise NotFound(f"No job {job_id}")
    if job.state != DEAD:
        raise Conflict(f"Job {job_id} is {job.state}, not dead: only a dead job can be retried")
    _refuse_after_follow_up(session, job)
    job.state, job.run_at, job.attempts = QUEUED, clock.now(), 0
    job.locked_by = job.locked_until = job.finished_at = None
    session.flush()
    return job_view(job, default_max_attempts)


def _refuse_after_follow_up(session: Session, job: Job) -> None:
    """A dead job whose `<kind>.failed` job was enqueued has handed its work over: that job
    ends it (a catalog upload ends with PROCESSING_FAILED, a message becomes `failed`), and
    the handlers do nothing for work that has ended. A retry would look like a success and
    do nothing, or, racing a follow-up not yet run, end an upload while its chunks still ran."""
    follow_up = _follow_up_of(session, job)
    if follow_up is None:
        return
    what = f"Job {job.id} ({job.kind}) cannot be retried: its failure was handed to job "
    what += f"{follow_up.id} ({follow_up.kind}, {follow_up.state}), "
    if follow_up.state == DEAD:
        raise Conflict(what + f"which died too; retry job {follow_up.id} to end the work")
    raise Conflict(
        what + "which ends the work the job stood for (a catalog upload ends with "
        "PROCESSING_FAILED, a message is marked failed), so a retry would do nothing; "
        "start the work again instead (a new upload, a new message)"
    )


def _follow_up_of(session: Session, job: Job) -> Job | None:
    stmt = select(Job).where(Job.kind == failed_kind(job.kind)).order_by(Job.id)
    if job.company_id is None:
        stmt = stmt.where(Job.company_id.is_(None))
    else:
        stmt = stmt.where(Job.company_id == job.company_id)
    # Matched on the payload in Python: JSON paths differ between SQLite and PostgreSQL,
    # and a company has few follow-up jobs.
    return next(
        (f for f in session.scalars(stmt) if f.payload.get("failed_job_id") == job.id), None
    )


def dead_jobs_by(session: Session, kind: str, key: str) -> dict[int, Job]:
    """The dead `kind` jobs by the number under `key` in their payload (the newest wins): how
    an area finds which of its records a dead job left unfinished. Dead jobs are few."""
    stmt = select(Job).where(Job.kind == kind, Job.state == DEAD).order_by(Job.id)
    found: dict[int, Job] = {}
    for job in session.scalars(stmt):
        number = job.payload.get(key)
        if isinstance(number, int):
            found[number] = job
    return found


def job_view(job: Job, default_max_attempts: int) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "companyId": None if job.company_id is None else ids.COMPANY.encode(job.company_id),
        "attempts": job.attempts,
        "maxAttempts": default_max_attempts if job.max_attempts is None else job.max_attempts,
        "runAt": job.run_at.isoformat(),
        "createdAt": job.created_at.isoformat(),
        "finishedAt": None if job.finished_at is None else job.finished_at.isoformat(),
        "lastError": job.last_error,
    }
