"""Running jobs: success, retry with backoff, dead-letter, unknown kinds, one transaction."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from heedful.core.clock import FrozenClock
from heedful.jobs import queue
from heedful.jobs.backoff import retry_delay
from heedful.jobs.registry import JobContext, JobRegistry, RetryLater, failed_kind
from heedful.jobs.worker import Worker, WorkerPolicy
from heedful.storage.db import Database
from heedful.storage.models import Job
from tests.jobs.conftest import SEED
from tests.jobs.support import enqueue_job, job_count, load_job
from tests.storage.plans import force_rescan_plan

ONE_MICROSECOND = timedelta(microseconds=1)


def test_a_job_runs_once_with_its_context_and_ends_done(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    seen: list[JobContext] = []

    @registry.register("greet")
    def greet(_session: Session, context: JobContext) -> None:
        seen.append(context)

    job_id = enqueue_job(db, clock, "greet", {"name": "Ada"})

    assert worker.run_until_idle() == 1
    assert worker.run_until_idle() == 0
    assert [(c.job_id, c.kind, c.payload, c.attempt) for c in seen] == [
        (job_id, "greet", {"name": "Ada"}, 1)
    ]
    job = load_job(db, job_id)
    assert job.state == queue.DONE
    assert job.attempts == 1
    assert job.finished_at == clock.now()
    assert job.locked_until is None
    assert job.last_error is None


def test_a_delayed_job_waits_for_its_run_at(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    ran: list[int] = []
    registry.register("later")(lambda _s, c: ran.append(c.job_id))
    job_id = enqueue_job(db, clock, "later", delay=timedelta(minutes=10))

    clock.advance(timedelta(minutes=10) - ONE_MICROSECOND)
    assert worker.run_until_idle() == 0
    clock.advance(ONE_MICROSECOND)
    assert worker.run_until_idle() == 1
    assert ran == [job_id]


def test_a_failing_job_is_retried_with_backoff_until_it_succeeds(
    db: Database,
    clock: FrozenClock,
    registry: JobRegistry,
    worker: Worker,
    policy: WorkerPolicy,
) -> None:
    failures = 3
    attempts_seen: list[int] = []

    @registry.register("flaky")
    def flaky(_session: Session, context: JobContext) -> None:
        attempts_seen.append(context.attempt)
        if context.attempt <= failures:
            raise ConnectionError(f"upstream timed out (try {context.attempt})")

    job_id = enqueue_job(db, clock, "flaky")
    mirror = random.Random(SEED)  # the worker's rng, drawn in the same order
    delays: list[timedelta] = []

    for attempt in range(1, failures + 1):
        assert worker.run_once() == 1
        job = load_job(db, job_id)
        expected = retry_delay(
            attempt, base=policy.backoff_base, cap=policy.backoff_cap, rng=mirror
        )
        delays.append(expected)
        assert job.state == queue.QUEUED
        assert job.attempts == attempt
        assert job.run_at == clock.now() + expected
        assert job.last_error == f"ConnectionError: upstream timed out (try {attempt})"
        assert job.locked_by is None
        assert job.locked_until is None
        assert job.finished_at is None

        # Not before its run_at...
        assert worker.run_once() == 0
        clock.set(job.run_at - ONE_MICROSECOND)
        assert worker.run_once() == 0
        assert attempts_seen == list(range(1, attempt + 1))
        # ...and as soon as it is due.
        clock.advance(ONE_MICROSECOND)

    assert worker.run_once() == 1
    job = load_job(db, job_id)
    assert job.state == queue.DONE
    assert job.attempts == failures + 1
    assert attempts_seen == [1, 2, 3, 4]
    assert job.finished_at == clock.now()
    # Exponential: each ceiling doubles, so with equal jitter each delay is at least the last.
    assert delays == sorted(delays)
    assert delays[-1] > delays[0] * 2


def test_a_job_that_always_fails_is_dead_after_max_attempts_and_never_runs_again(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    calls: list[int] = []

    @registry.register("doomed")
    def doomed(_session: Session, context: JobContext) -> None:
        calls.append(context.attempt)
        raise ValueError(f"card declined on attempt {context.attempt}")

    job_id = enqueue_job(db, clock, "doomed", max_attempts=3)

    for _ in range(3):
        assert worker.run_once() == 1
        clock.advance(timedelta(hours=1))  # past any backoff (the cap is 600 s)

    job = load_job(db, job_id)
    assert calls == [1, 2, 3]
    assert job.state == queue.DEAD
    assert job.attempts == 3
    assert job.finished_at == clock.now() - timedelta(hours=1)
    assert job.last_error is not None
    assert "card declined on attempt 3" in job.last_error
    assert job.last_error.startswith("ValueError")

    clock.advance(timedelta(days=30))
    assert worker.run_until_idle() == 0
    assert calls == [1, 2, 3]
    assert load_job(db, job_id).state == queue.DEAD


def test_a_dead_job_hands_its_payload_and_error_to_its_kinds_failed_job(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    # The work a dead job stood for (an upload, say) would otherwise wait for it for ever.
    told: list[JobContext] = []

    @registry.register("ingest")
    def ingest(_session: Session, context: JobContext) -> None:
        raise FileNotFoundError(f"no file for upload {context.payload['upload_id']}")

    registry.register(failed_kind("ingest"))(lambda _s, context: told.append(context))
    job_id = enqueue_job(db, clock, "ingest", {"upload_id": 7}, max_attempts=2)

    for _ in range(4):
        worker.run_once()
        clock.advance(timedelta(hours=1))

    assert load_job(db, job_id).state == queue.DEAD
    assert [(c.kind, c.payload) for c in told] == [
        (
            "ingest.failed",
            {
                "upload_id": 7,
                "failed_job_id": job_id,
                "error": "FileNotFoundError: no file for upload 7",
            },
        )
    ]


def test_a_job_told_to_retry_later_waits_without_spending_its_attempts(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    waits = 10

    @registry.register("erase")
    def erase(session: Session, context: JobContext) -> None:
        nonlocal waits
        queue.enqueue(session, clock, "written.then.rolled.back", {}, company_id=None)
        if waits:
            waits -= 1
            raise RetryLater("a delivery about the subject is being sent", timedelta(seconds=3))

    registry.register("written.then.rolled.back")(lambda _s, _c: None)
    job_id = enqueue_job(db, clock, "erase", max_attempts=2)

    assert worker.run_once() == 1
    waiting = load_job(db, job_id)
    assert (waiting.state, waiting.attempts) == (queue.QUEUED, 0)
    assert waiting.run_at == clock.now() + timedelta(seconds=3)
    assert waiting.last_error == "waiting: a delivery about the subject is being sent"
    assert job_count(db) == 1  # the handler's writes rolled back
    for _ in range(10):
        clock.advance(timedelta(seconds=3))
        worker.run_once()

    done = load_job(db, job_id)
    assert (done.state, done.attempts) == (queue.DONE, 1)


def test_a_dead_job_without_a_failed_handler_leaves_no_other_job(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    registry.register("doomed")(lambda _s, _c: 1 / 0)
    enqueue_job(db, clock, "doomed", max_attempts=1)

    assert worker.run_once() == 1
    assert job_count(db) == 1


def test_without_its_own_max_attempts_a_job_gets_the_policy_maximum(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker, policy: WorkerPolicy
) -> None:
    calls: list[int] = []

    @registry.register("doomed")
    def doomed(_session: Session, context: JobContext) -> None:
        calls.append(context.attempt)
        raise RuntimeError("nope")

    job_id = enqueue_job(db, clock, "doomed")
    for _ in range(policy.max_attempts + 2):
        worker.run_once()
        clock.advance(timedelta(hours=1))

    assert calls == list(range(1, policy.max_attempts + 1))
    assert load_job(db, job_id).state == queue.DEAD


def test_a_long_error_message_is_truncated(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    @registry.register("loud")
    def loud(_session: Session, _context: JobContext) -> None:
        raise RuntimeError("x" * 10_000)

    job_id = enqueue_job(db, clock, "loud")
    worker.run_once()

    last_error = load_job(db, job_id).last_error
    assert last_error is not None
    assert last_error.startswith("RuntimeError: xxx")
    assert len(last_error) == 2000


def test_an_unknown_kind_is_dead_at_once_with_a_clear_error(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    registry.register("known")(lambda _s, _c: None)
    job_id = enqueue_job(db, clock, "typo.kind", max_attempts=5)

    assert worker.run_once() == 1

    job = load_job(db, job_id)
    assert job.state == queue.DEAD
    assert job.attempts == 1
    assert job.finished_at == clock.now()
    assert job.last_error == "no handler registered for job kind 'typo.kind'"
    clock.advance(timedelta(days=1))
    assert worker.run_until_idle() == 0
    assert load_job(db, job_id).attempts == 1


def test_a_handlers_writes_roll_back_when_it_raises(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    @registry.register("fan-out")
    def fan_out(session: Session, context: JobContext) -> None:
        queue.enqueue(session, context.clock, "child", {"n": 1}, company_id=None)
        if context.payload["fail"]:
            raise RuntimeError("failed after writing")

    failing = enqueue_job(db, clock, "fan-out", {"fail": True})

    assert worker.run_once() == 1
    assert job_count(db) == 1  # the child enqueue went with the rollback
    job = load_job(db, failing)
    assert job.state == queue.QUEUED
    assert job.last_error == "RuntimeError: failed after writing"

    # The same handler, succeeding, commits its write together with the job's completion.
    succeeding = enqueue_job(db, clock, "fan-out", {"fail": False})
    assert worker.run_once() == 1
    with db.transaction() as session:
        rows = {
            job.kind: job.state for job in session.scalars(select(Job).where(Job.id != failing))
        }
    assert rows == {"fan-out": queue.DONE, "child": queue.QUEUED}
    assert load_job(db, succeeding).state == queue.DONE


def test_a_batch_claims_at_most_batch_size_jobs_oldest_first(
    db: Database, clock: FrozenClock, registry: JobRegistry, policy: WorkerPolicy
) -> None:
    order: list[int] = []
    registry.register("n")(lambda _s, c: order.append(c.payload["n"]))
    # Enqueued newest-run_at first, so id order and run_at order disagree.
    for n in reversed(range(12)):
        enqueue_job(db, clock, "n", {"n": n}, delay=timedelta(seconds=n))
    clock.advance(timedelta(minutes=1))
    small = Worker(db, registry, clock, WorkerPolicy(batch_size=5, lease=policy.lease))

    assert small.run_once() == 5
    assert small.run_until_idle() == 7
    assert order == list(range(12))


def test_default_worker_names_are_distinct(
    db: Database, clock: FrozenClock, registry: JobRegistry
) -> None:
    first, second = Worker(db, registry, clock), Worker(db, registry, clock)

    assert first.name != second.name
    assert len(first.name) <= 128


def test_a_batch_never_claims_more_than_batch_size_whatever_the_plan(
    db: Database, clock: FrozenClock, registry: JobRegistry, policy: WorkerPolicy
) -> None:
    registry.register("n")(lambda _s, _c: None)
    for n in range(12):  # oldest first in table order too
        enqueue_job(db, clock, "n", {"n": n}, delay=timedelta(seconds=n))
    clock.advance(timedelta(minutes=1))
    force_rescan_plan(db, "jobs")
    small = Worker(db, registry, clock, WorkerPolicy(batch_size=5, lease=policy.lease))

    assert [small.run_once() for _ in range(4)] == [5, 5, 2, 0]
