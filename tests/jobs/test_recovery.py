"""Jobs survive restarts and crashed workers: committed rows and expiring leases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from heedful.config import Settings
from heedful.core.clock import FrozenClock
from heedful.jobs import queue
from heedful.jobs.registry import JobContext, JobRegistry
from heedful.jobs.worker import Worker, WorkerPolicy
from heedful.runtime import Runtime
from heedful.storage.db import Database
from heedful.storage.models import Job
from tests.jobs.support import enqueue_job, load_job

ONE_SECOND = timedelta(seconds=1)


@pytest.mark.usefixtures("db")  # the migrated schema, even when this test runs first
def test_a_committed_job_survives_a_restart(
    databases: Callable[[], Database], clock: FrozenClock, policy: WorkerPolicy
) -> None:
    before = databases()
    job_id = enqueue_job(before, clock, "report.build", {"month": "2026-01"})
    before.dispose()

    after = databases()  # a brand new engine: nothing carried over but the database itself
    ran: list[dict[str, object]] = []
    registry = JobRegistry()
    registry.register("report.build")(lambda _s, c: ran.append(c.payload))

    assert Worker(after, registry, clock, policy, name="restarted").run_until_idle() == 1
    assert ran == [{"month": "2026-01"}]
    assert load_job(after, job_id).state == queue.DONE


def test_a_crashed_workers_job_is_reclaimed_only_after_its_lease_expires(
    db: Database, clock: FrozenClock, registry: JobRegistry, policy: WorkerPolicy
) -> None:
    attempts: list[tuple[int, str]] = []
    registry.register("sync")(lambda _s, c: attempts.append((c.attempt, "ran")))
    job_id = enqueue_job(db, clock, "sync")
    crashed = Worker(db, registry, clock, policy, name="crashed")
    rescuer = Worker(db, registry, clock, policy, name="rescuer")

    [claimed] = crashed._claim()  # ... and the process dies before running it
    assert claimed.id == job_id
    running = load_job(db, job_id)
    assert (running.state, running.locked_by, running.attempts) == (queue.RUNNING, "crashed", 1)
    assert running.locked_until == clock.now() + policy.lease

    assert rescuer.run_until_idle() == 0
    clock.advance(policy.lease - ONE_SECOND)
    assert rescuer.run_until_idle() == 0
    clock.advance(ONE_SECOND)  # exactly at locked_until: still held
    assert rescuer.run_until_idle() == 0
    assert attempts == []

    clock.advance(ONE_SECOND)
    assert rescuer.run_until_idle() == 1
    assert attempts == [(2, "ran")]  # the crashed claim counted as an attempt
    job = load_job(db, job_id)
    assert (job.state, job.locked_by, job.attempts) == (queue.DONE, "rescuer", 2)


def test_a_worker_that_lost_its_lease_does_not_run_or_finish_the_job(
    db: Database, clock: FrozenClock, registry: JobRegistry, policy: WorkerPolicy
) -> None:
    @registry.register("charge")
    def charge(session: Session, context: JobContext) -> None:
        queue.enqueue(
            session, context.clock, "receipt", {"attempt": context.attempt}, company_id=None
        )

    job_id = enqueue_job(db, clock, "charge")
    # Same name on purpose: two threads of one process, or a restart that reuses a pid.
    slow = Worker(db, registry, clock, policy, name="host:1")
    fast = Worker(db, registry, clock, policy, name="host:1")

    [stale] = slow._claim()
    clock.advance(policy.lease + ONE_SECOND)  # slow stalls past its lease
    [fresh] = fast._claim()
    assert (stale.attempts, fresh.attempts) == (1, 2)

    slow._run(stale)  # wakes up: must notice it no longer holds the job
    with db.transaction() as session:
        assert session.scalars(select(Job.payload).where(Job.kind == "receipt")).all() == []
    assert load_job(db, job_id).state == queue.RUNNING

    fast._run(fresh)
    slow._run(stale)  # and again after the job is done: still nothing
    with db.transaction() as session:
        receipts = session.scalars(select(Job.payload).where(Job.kind == "receipt")).all()
    assert receipts == [{"attempt": 2}]
    job = load_job(db, job_id)
    assert (job.state, job.attempts) == (queue.DONE, 2)


def test_a_failure_reported_after_losing_the_lease_is_ignored(
    db: Database, clock: FrozenClock, registry: JobRegistry, policy: WorkerPolicy
) -> None:
    registry.register("x")(lambda _s, _c: None)
    job_id = enqueue_job(db, clock, "x", max_attempts=2)
    slow = Worker(db, registry, clock, policy, name="w")
    fast = Worker(db, registry, clock, policy, name="w")

    [stale] = slow._claim()
    clock.advance(policy.lease + ONE_SECOND)
    [fresh] = fast._claim()
    slow._fail(stale, "RuntimeError: too late", final=False)

    job = load_job(db, job_id)
    assert (job.state, job.attempts, job.last_error) == (queue.RUNNING, 2, None)
    fast._run(fresh)
    assert load_job(db, job_id).state == queue.DONE


def test_a_job_that_keeps_killing_its_worker_is_dead_lettered(
    db: Database, clock: FrozenClock, registry: JobRegistry, policy: WorkerPolicy
) -> None:
    ran: list[int] = []
    registry.register("poison")(lambda _s, c: ran.append(c.attempt))
    job_id = enqueue_job(db, clock, "poison", max_attempts=3)

    for n in range(3):  # three workers die mid-job, one after the other
        [claimed] = Worker(db, registry, clock, policy, name=f"victim-{n}")._claim()
        assert claimed.attempts == n + 1
        clock.advance(policy.lease + ONE_SECOND)

    survivor = Worker(db, registry, clock, policy, name="survivor")
    assert survivor.run_until_idle() == 1

    assert ran == []  # not a fourth run of a job that was allowed three
    job = load_job(db, job_id)
    assert job.state == queue.DEAD
    assert job.finished_at == clock.now()
    assert job.last_error is not None
    assert "lease" in job.last_error
    assert "3" in job.last_error
    assert survivor.run_until_idle() == 0


def test_a_handlers_writes_commit_only_together_with_the_jobs_completion(
    db: Database, clock: FrozenClock, registry: JobRegistry, policy: WorkerPolicy
) -> None:
    @registry.register("ship")
    def ship(session: Session, context: JobContext) -> None:
        queue.enqueue(
            session, context.clock, "notify", {"attempt": context.attempt}, company_id=None
        )
        if context.attempt == 1:
            # Stands in for the claim being taken over mid-run, so completion cannot be
            # recorded: the child enqueued above must not outlive it.
            session.execute(update(Job).where(Job.id == context.job_id).values(locked_by="usurper"))

    job_id = enqueue_job(db, clock, "ship")
    worker = Worker(db, registry, clock, policy, name="shipper")

    assert worker.run_once() == 1
    with db.transaction() as session:
        assert session.scalars(select(Job.payload).where(Job.kind == "notify")).all() == []
    job = load_job(db, job_id)
    assert (job.state, job.locked_by, job.attempts) == (queue.RUNNING, "shipper", 1)

    clock.advance(policy.lease + ONE_SECOND)
    assert worker.run_once() == 1
    with db.transaction() as session:
        notices = session.scalars(select(Job.payload).where(Job.kind == "notify")).all()
    assert notices == [{"attempt": 2}]
    assert load_job(db, job_id).state == queue.DONE


def test_a_crashed_servers_jobs_come_back_after_the_configured_lease(
    settings: Settings, db: Database, clock: FrozenClock
) -> None:
    # HEEDFUL_JOB_LEASE_SECONDS: how long a dead process's claimed jobs wait to be taken again.
    configured = settings.model_copy(update={"job_lease_seconds": 30.0})
    runtime = Runtime(configured, db, clock, JobRegistry())
    ran: list[int] = []
    runtime.jobs.register("sync")(lambda _s, c: ran.append(c.attempt))
    enqueue_job(db, clock, "sync")

    assert len(runtime.worker()._claim()) == 1  # ... and that server is killed
    clock.advance(timedelta(seconds=31))

    assert runtime.worker().run_until_idle() == 1
    assert ran == [2]
