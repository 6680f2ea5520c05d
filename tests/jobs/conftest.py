"""Fixtures for the job queue: a fresh registry, a quick policy, workers and helpers."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from heedful.core.clock import FrozenClock
from heedful.jobs.registry import JobRegistry
from heedful.jobs.worker import Worker, WorkerPolicy
from heedful.storage.db import Database

POLICY = WorkerPolicy(
    max_attempts=5,
    backoff_base=2.0,
    backoff_cap=600.0,
    lease=timedelta(minutes=5),
    batch_size=10,
    poll_interval=0.01,
)
SEED = 20260101


@pytest.fixture
def registry() -> JobRegistry:
    return JobRegistry()


@pytest.fixture
def policy() -> WorkerPolicy:
    return POLICY


@pytest.fixture
def worker(db: Database, registry: JobRegistry, clock: FrozenClock, policy: WorkerPolicy) -> Worker:
    return Worker(db, registry, clock, policy, name="worker-a", rng=random.Random(SEED))


@pytest.fixture
def databases(database_url: str) -> Iterator[Callable[[], Database]]:
    """Makes extra `Database` objects (own engine and pool) and disposes them afterwards."""
    made: list[Database] = []

    def make() -> Database:
        database = Database(database_url)
        made.append(database)
        return database

    yield make
    for database in made:
        database.dispose()
