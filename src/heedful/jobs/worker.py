"""The worker: claims due jobs, runs their handlers, retries with backoff, dead-letters.

A claim is one WITH due AS (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED) UPDATE ... WHERE id IN
due RETURNING, so on PostgreSQL two workers never take the same row, and on SQLite the
statement is atomic. CLAIM_ONCE: the due rows are a CTE, which PostgreSQL runs once, not a
subquery in the WHERE clause: a plan could run that again for each row the UPDATE scanned,
each run skipping the rows already updated and taking the next ones, so a claim of 5 took
every due row (tests/jobs/test_worker.py forces that plan). A claim
is a lease: a worker that dies mid-job leaves a `running` row whose lease runs out, and the
next claim picks it up again, so jobs survive restarts.

Every claim bumps `attempts`, so (locked_by, attempts) names one claim: a worker that stalled
past its lease and was overtaken finds its claim gone and neither runs nor finishes the job.
While a handler runs, its transaction holds the job row locked, so claims skip it.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from heedful.core.clock import Clock
from heedful.jobs.backoff import retry_delay
from heedful.jobs.queue import DEAD, DONE, QUEUED, RUNNING, enqueue
from heedful.jobs.registry import JobContext, JobRegistry, RetryLater, failed_kind
from heedful.storage.db import Database
from heedful.storage.models import Job

log = logging.getLogger("heedful.jobs")

MAX_ERROR_CHARS = 2000


def default_worker_name() -> str:
    # Unique per Worker, even for several in one process; fits `jobs.locked_by` (128).
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseLost(Exception):
    """This worker's claim on a job was taken over after its lease ran out."""


@dataclass(frozen=True)
class WorkerPolicy:
    max_attempts: int = 8
    backoff_base: float = 2.0
    backoff_cap: float = 3600.0
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = 10
    poll_interval: float = 0.5


@dataclass
class Worker:
    db: Database
    registry: JobRegistry
    clock: Clock
    policy: WorkerPolicy = field(default_factory=WorkerPolicy)
    name: str = field(default_factory=default_worker_name)
    rng: random.Random = field(default_factory=random.Random)

    def run_once(self) -> int:
        """Claim and run every job due now (one batch); returns how many ran."""
        claimed = self._claim()
        for job in claimed:
            self._run(job)
        return len(claimed)

    def run_until_idle(self, max_batches: int = 1000) -> int:
        total = 0
        for _ in range(max_batches):
            ran = self.run_once()
            if ran == 0:
                break
            total += ran
        return total

    def run_forever(self, stop: threading.Event) -> None:
        log.info("worker started", extra={"worker": self.name, "kinds": self.registry.kinds})
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the database may be briefly unreachable; keep the loop alive
                log.exception("worker loop error", extra={"worker": self.name})
                ran = 0
            if ran == 0:
                stop.wait(self.policy.poll_interval)
        log.info("worker stopped", extra={"worker": self.name})

    def _claim(self) -> list[Job]:
        now = self.clock.now()
        claimable = or_(
            and_(Job.state == QUEUED, Job.run_at <= now),
            and_(Job.state == RUNNING, Job.locked_until < now),
        )
        # Look before claiming: the look takes no write lock on SQLite, and an idle worker
        # that claimed (a write transaction) every poll would make every other writer of the
        # database, ingestion included, wait its turn behind it.
        with self.db.read() as session:
            if session.execute(select(Job.id).where(claimable).limit(1)).first() is None:
                return []
        due = (
            select(Job.id)
            .where(claimable)
            .order_by(Job.run_at, Job.id)
            .limit(self.policy.batch_size)
            .with_for_update(skip_locked=True)
            .cte("due")  # run once: see CLAIM_ONCE in the module doc
        )
        claim = (
            update(Job)
            .where(Job.id.in_(select(due.c.id)))
            .values(
                state=RUNNING,
                locked_by=self.name,
                locked_until=now + self.policy.lease,
                attempts=Job.attempts + 1,
            )
            .returning(Job)
            .execution_options(synchronize_session=False)
        )
        with self.db.transaction() as session:
            jobs = list(session.scalars(claim).all())
        # RETURNING comes back in no particular order: run the batch oldest first.
        jobs.sort(key=lambda job: (job.run_at, job.id))
        return jobs

    def _max_attempts(self, job: Job) -> int:
        return self.policy.max_attempts if job.max_attempts is None else job.max_attempts

    def _held(self, job: Job) -> tuple[ColumnElement[bool], ...]:
        """Matches the job row only while it is still this claim of it (see the module doc)."""
        return (
            Job.id == job.id,
            Job.state == RUNNING,
            Job.locked_by == self.name,
            Job.attempts == job.attempts,
        )

    def _run(self, job: Job) -> None:
        handler = self.registry.handler_for(job.kind)
        if handler is None:
            self._fail(job, f"no handler registered for job kind {job.kind!r}", final=True)
            return
        max_attempts = self._max_attempts(job)
        if job.attempts > max_attempts:
            # Only a reclaim gets here: attempt `max_attempts` never reported back (the worker
            # died, or the handler outran its lease), so give up instead of looping forever.
            self._fail(
                job,
                f"gave up after {max_attempts} attempts: the lease on the last one expired "
                f"without a result (worker crashed, or the job outlasts the "
                f"{self.policy.lease} lease)",
                final=True,
            )
            return
        context = JobContext(
            job.id, job.kind, job.company_id, dict(job.payload), job.attempts, self.clock
        )
        try:
            with self.db.transaction() as session:
                self._hold(session, job)
                handler(session, context)
                self._finish(session, job)
        except RetryLater as exc:
            self._postpone(job, exc)
        except LeaseLost:
            log.warning(
                "job lease lost to another worker; this run did nothing or was rolled back",
                extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempts},
            )
        except Exception as exc:
            self._fail(job, f"{type(exc).__name__}: {exc}", final=False)

    def _hold(self, session: Session, job: Job) -> None:
        """Lock the job row for the handler's transaction, if this claim still holds it."""
        held = session.scalar(select(Job.id).where(*self._held(job)).with_for_update())
        if held is None:
            raise LeaseLost

    def _finish(self, session: Session, job: Job) -> None:
        finished = session.scalar(
            update(Job)
            .where(*self._held(job))
            .values(state=DONE, finished_at=self.clock.now(), locked_until=None, last_error=None)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        if finished is None:  # cannot happen while _hold's lock stands; roll back if it does
            raise LeaseLost

    def _postpone(self, job: Job, wait: RetryLater) -> None:
        """Queue the job again after `wait.delay`; this claim does not count as an attempt."""
        with self.db.transaction() as session:
            session.execute(
                update(Job)
                .where(*self._held(job))
                .values(
                    state=QUEUED,
                    run_at=self.clock.now() + wait.delay,
                    attempts=Job.attempts - 1,
                    locked_by=None,
                    locked_until=None,
                    last_error=f"waiting: {wait}"[:MAX_ERROR_CHARS],
                )
                .execution_options(synchronize_session=False)
            )

    def _follow_up(self, session: Session, job: Job, error: str) -> None:
        """Enqueue the dead job's `<kind>.failed` job, if its area has one, in the transaction
        that dead-letters it: what waited on the job (an upload, say) learns it will not come."""
        kind = failed_kind(job.kind)
        if self.registry.handler_for(kind) is None:
            return
        payload = {**job.payload, "failed_job_id": job.id, "error": error}
        enqueue(session, self.clock, kind, payload, company_id=job.company_id)

    def _fail(self, job: Job, error: str, *, final: bool) -> None:
        max_attempts = self._max_attempts(job)
        dead = final or job.attempts >= max_attempts
        now = self.clock.now()
        values: dict[str, object] = {"last_error": error[:MAX_ERROR_CHARS], "locked_until": None}
        if dead:
            values.update(state=DEAD, finished_at=now)
        else:
            delay = retry_delay(
                job.attempts,
                base=self.policy.backoff_base,
                cap=self.policy.backoff_cap,
                rng=self.rng,
            )
            values.update(state=QUEUED, run_at=now + delay, locked_by=None)
        with self.db.transaction() as session:
            recorded = session.scalar(
                update(Job)
                .where(*self._held(job))
                .values(**values)
                .returning(Job.id)
                .execution_options(synchronize_session=False)
            )
            if recorded is not None and dead:
                self._follow_up(session, job, error[:MAX_ERROR_CHARS])
        extra = {"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "error": error}
        if recorded is None:
            log.warning("job failed after its lease was lost; outcome not recorded", extra=extra)
        elif dead:
            log.error("job dead-lettered", extra=extra)
        else:
            log.warning("job failed; will retry", extra=extra)
