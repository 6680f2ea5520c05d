"""Enqueueing is part of the caller's transaction, and the state gauge counts every state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heedful.core.clock import FrozenClock
from heedful.jobs import queue
from heedful.jobs.registry import JobRegistry
from heedful.jobs.worker import Worker
from heedful.storage.db import Database
from tests.jobs.support import enqueue_job, job_count, load_job


class Abort(Exception):
    pass


def test_enqueue_in_a_rolled_back_transaction_leaves_no_job(
    db: Database, clock: FrozenClock
) -> None:
    with pytest.raises(Abort), db.transaction() as session:
        job = queue.enqueue(session, clock, "email.send", {"to": "a@b.c"}, company_id=None)
        assert job.id is not None  # flushed: visible inside the transaction
        raise Abort

    assert job_count(db) == 0


def test_enqueue_in_a_committed_transaction_leaves_one_queued_job(
    db: Database, clock: FrozenClock
) -> None:
    with db.transaction() as session:
        job_id = queue.enqueue(
            session,
            clock,
            "email.send",
            {"to": "a@b.c"},
            company_id=None,
            delay=timedelta(seconds=30),
            max_attempts=4,
        ).id

    assert job_count(db) == 1
    job = load_job(db, job_id)
    assert job.state == queue.QUEUED
    assert job.kind == "email.send"
    assert job.payload == {"to": "a@b.c"}
    assert job.attempts == 0
    assert job.max_attempts == 4
    assert job.created_at == clock.now()
    assert job.run_at == clock.now() + timedelta(seconds=30)
    assert job.locked_by is None
    assert job.finished_at is None


def test_enqueue_rejects_a_max_attempts_below_one(db: Database, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="max_attempts"), db.transaction() as session:
        queue.enqueue(session, clock, "x", {}, company_id=None, max_attempts=0)

    assert job_count(db) == 0


def test_counts_by_state_reports_all_four_states(
    db: Database, clock: FrozenClock, registry: JobRegistry, worker: Worker
) -> None:
    with db.transaction() as session:
        assert queue.counts_by_state(session) == {"queued": 0, "running": 0, "done": 0, "dead": 0}

    @registry.register("ok")
    def ok(*_: object) -> None:
        pass

    for _ in range(2):
        enqueue_job(db, clock, "ok")
    enqueue_job(db, clock, "no-such-kind")  # dead on its first run
    assert worker.run_until_idle() == 3
    for _ in range(3):
        enqueue_job(db, clock, "ok")
    later = [enqueue_job(db, clock, "ok", delay=timedelta(hours=1)) for _ in range(4)]
    claimed = worker._claim()  # three due jobs, now running

    assert len(claimed) == 3
    assert not {job.id for job in claimed} & set(later)
    with db.transaction() as session:
        assert queue.counts_by_state(session) == {"queued": 4, "running": 3, "done": 2, "dead": 1}
