"""Several workers draining one queue at once, and the long-running worker loop."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from heedful.core.clock import FrozenClock
from heedful.jobs import queue
from heedful.jobs.registry import JobContext, JobRegistry
from heedful.jobs.worker import Worker, WorkerPolicy
from heedful.storage.db import Database
from heedful.storage.models import Job
from tests.jobs.support import enqueue_job, load_job

JOBS = 200


def drain_concurrently(
    databases: Callable[[], Database],
    db: Database,
    clock: FrozenClock,
    policy: WorkerPolicy,
    workers: int,
) -> tuple[list[int], list[tuple[int, str]]]:
    """Enqueue JOBS jobs, then drain them with `workers` threads, each with its own Database
    and name. Returns the job ids and (job_id, worker name) for every handler run."""
    runs: list[tuple[int, str]] = []
    lock = threading.Lock()
    registry = JobRegistry()

    @registry.register("work")
    def work(_session: Session, context: JobContext) -> None:
        # Each worker runs in a thread named after it.
        with lock:
            runs.append((context.job_id, threading.current_thread().name))
        time.sleep(0.001)

    with db.transaction() as session:
        job_ids = [
            queue.enqueue(session, clock, "work", {"n": n}, company_id=None).id for n in range(JOBS)
        ]

    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def drain(worker: Worker) -> None:
        try:
            start.wait(timeout=10)
            worker.run_until_idle()
        except BaseException as exc:
            errors.append(exc)

    pool = [
        Worker(databases(), registry, clock, replace(policy, batch_size=5), name=f"w{n}")
        for n in range(workers)
    ]
    threads = [threading.Thread(target=drain, args=(w,), name=w.name) for w in pool]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return job_ids, runs


def assert_each_ran_exactly_once(
    db: Database, job_ids: list[int], runs: list[tuple[int, str]]
) -> None:
    ran = Counter(job_id for job_id, _ in runs)
    assert sorted(ran) == sorted(job_ids)
    assert set(ran.values()) == {1}
    with db.transaction() as session:
        rows = session.execute(select(Job.state, Job.attempts, Job.locked_by)).all()
    assert len(rows) == JOBS
    assert {(state, attempts) for state, attempts, _ in rows} == {(queue.DONE, 1)}
    by_worker = Counter(name for _, name in runs)
    assert by_worker == Counter(locked_by for _, _, locked_by in rows)


def test_four_workers_on_postgresql_run_every_job_exactly_once(
    is_postgres: bool,
    databases: Callable[[], Database],
    db: Database,
    clock: FrozenClock,
    policy: WorkerPolicy,
) -> None:
    if not is_postgres:
        pytest.skip("needs PostgreSQL: FOR UPDATE SKIP LOCKED with parallel writers")

    job_ids, runs = drain_concurrently(databases, db, clock, policy, workers=4)

    assert_each_ran_exactly_once(db, job_ids, runs)
    assert len({name for _, name in runs}) > 1, Counter(name for _, name in runs)


def test_two_workers_sharing_a_database_run_every_job_exactly_once(
    databases: Callable[[], Database], db: Database, clock: FrozenClock, policy: WorkerPolicy
) -> None:
    # On SQLite the two serialise on the write lock (BEGIN IMMEDIATE); still exactly once.
    job_ids, runs = drain_concurrently(databases, db, clock, policy, workers=2)

    assert_each_ran_exactly_once(db, job_ids, runs)


def test_run_forever_runs_new_jobs_and_stops_when_told(
    db: Database, clock: FrozenClock, registry: JobRegistry, policy: WorkerPolicy
) -> None:
    ran = threading.Event()
    registry.register("ping")(lambda _s, _c: ran.set())
    stop = threading.Event()
    worker = Worker(db, registry, clock, replace(policy, poll_interval=0.01), name="loop")
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.05)  # a few idle polls first
        job_id = enqueue_job(db, clock, "ping")
        assert ran.wait(timeout=3), "the job did not run within 3 s"
    finally:
        stop.set()
        thread.join(timeout=3)

    assert not thread.is_alive()
    assert load_job(db, job_id).state == queue.DONE


def test_run_forever_survives_database_errors_and_still_stops(
    tmp_path_factory: pytest.TempPathFactory, clock: FrozenClock, registry: JobRegistry
) -> None:
    missing = tmp_path_factory.mktemp("gone") / "no-such-dir" / "jobs.db"
    broken = Database(f"sqlite:///{missing}")  # every claim fails: cannot open the file
    stop = threading.Event()
    worker = Worker(broken, registry, clock, WorkerPolicy(poll_interval=0.01), name="broken")
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    try:
        thread.start()
        time.sleep(0.1)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=3)
        broken.dispose()

    assert not thread.is_alive()
