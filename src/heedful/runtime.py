"""The composition root: builds everything a process needs from one `Settings`."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Concatenate, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from heedful.catalog import tasks as catalog_tasks
from heedful.config import Settings
from heedful.core.clock import Clock, SystemClock
from heedful.events.writer import GroupCommitWriter
from heedful.http.authcache import AuthCache
from heedful.http.ratelimit import RateLimiter
from heedful.jobs.registry import JobRegistry
from heedful.jobs.worker import Worker, WorkerPolicy
from heedful.messaging import tasks as messaging_tasks
from heedful.privacy import tasks as privacy_tasks
from heedful.storage.db import Database, is_retryable

P = ParamSpec("P")
T = TypeVar("T")
RUN_ATTEMPTS = 5
RETRY_PAUSE = 0.01  # seconds, times the attempt number


def build_job_registry(settings: Settings | None = None) -> JobRegistry:
    """Every area's job handlers. Areas add a `register_jobs(registry)` call here."""
    registry = JobRegistry()
    catalog_tasks.register_jobs(registry)
    privacy_tasks.register_jobs(registry)
    messaging_tasks.register_jobs(registry, settings)  # settings: the email transport
    return registry


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    jobs: JobRegistry = field(default_factory=build_job_registry)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.rate_limit_for)

    async def run(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(session, ...)` in one transaction on a worker thread, off the event loop."""

        def in_transaction() -> T:
            for attempt in range(1, RUN_ATTEMPTS + 1):
                try:
                    with self.db.transaction() as session:
                        return fn(session, *args, **kwargs)
                except DBAPIError as exc:
                    # PostgreSQL cancelled it to break a deadlock (say, a merge and a
                    # subscribe locking the same users in turn): it left nothing behind, and
                    # the other transaction goes on, so this one runs again after it.
                    if attempt == RUN_ATTEMPTS or not is_retryable(exc):
                        raise
                    time.sleep(RETRY_PAUSE * attempt)
            raise AssertionError("unreachable")

        return await anyio.to_thread.run_sync(in_transaction)

    async def read(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Like `run`, for a use case that only reads (no write lock on SQLite)."""

        def in_read_transaction() -> T:
            with self.db.read() as session:
                return fn(session, *args, **kwargs)

        return await anyio.to_thread.run_sync(in_read_transaction)

    @functools.cached_property
    def writer(self) -> GroupCommitWriter:
        """The group-commit writer of this process (ingestion shares its transactions)."""
        return GroupCommitWriter(self.db, self.clock)

    @functools.cached_property
    def auth_cache(self) -> AuthCache:
        """Brief token-lookup reuse for the high-rate operations (see http.authcache)."""
        return AuthCache(self.settings.auth_cache_seconds)

    def worker(self) -> Worker:
        settings = self.settings
        policy = WorkerPolicy(
            max_attempts=settings.job_max_attempts,
            backoff_base=settings.job_backoff_base,
            backoff_cap=settings.job_backoff_cap,
            poll_interval=settings.job_poll_interval,
            lease=timedelta(seconds=settings.job_lease_seconds),
        )
        return Worker(self.db, self.jobs, self.clock, policy)


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return Runtime(
        settings,
        Database(settings.database_url),
        clock or SystemClock(),
        build_job_registry(settings),
    )
