"""Deterministic races with an erasure, on PostgreSQL.

Another connection holds a row lock the erasure needs (a job naming the subject), so the
erasure stops just after locking the user; each step waits until the expected number of
backends wait on a lock (`pg_stat_activity`), never on a sleep deciding the order. SQLite runs
one writer at a time, so there the racers simply queue behind the erasure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from heedful.identity.identifiers import Identifier
from heedful.jobs import queue
from heedful.privacy import erasure
from heedful.runtime import Runtime
from heedful.storage.db import Database

WAIT_SECONDS = 10.0


class Racer(threading.Thread):
    """Runs `fn(session)` in its own transaction; keeps what it returned or raised."""

    def __init__(self, runtime: Runtime, fn: Callable[[Any], object]) -> None:
        super().__init__(daemon=True)
        self.runtime, self.fn = runtime, fn
        self.outcome: list[object] = []

    def run(self) -> None:
        try:
            with self.runtime.db.transaction() as session:
                self.outcome.append(self.fn(session))
        except Exception as exc:  # the failure is the finding
            self.outcome.append(exc)


def lock_waiters(db: Database) -> int:
    with db.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return int(conn.execute(text(query)).scalar_one())


def settle(db: Database, racer: Racer, waiting: int) -> None:
    """PostgreSQL: until `waiting` backends wait on a lock (the racer must be one of them).
    SQLite: a moment, for the racer to finish or to queue behind the writer before it."""
    if db.dialect != "postgresql":
        racer.join(0.5)
        return
    wait_for_lock_waits(db, waiting, racer.is_alive, lambda: racer.outcome)


def wait_for_lock_waits(
    db: Database, waiting: int, running: Callable[[], bool], outcome: Callable[[], object]
) -> None:
    """PostgreSQL: until `waiting` backends wait on a lock, while `running()` stays true."""
    deadline = time.monotonic() + WAIT_SECONDS
    while lock_waiters(db) < waiting:
        assert running(), f"ended before waiting on a lock: {outcome()}"
        assert time.monotonic() < deadline, f"never saw {waiting} lock waits"
        time.sleep(0.01)


@contextmanager
def erasure_held_after_locking_the_user(
    runtime: Runtime, company_id: int, user_id: int
) -> Iterator[None]:
    """PostgreSQL: another transaction locks a job naming the subject, so an erasure stops at
    that job (scrubbed after the users' rows are deleted, uncommitted) holding the lock on the
    user, until the block ends. SQLite: nothing to hold."""
    with runtime.db.transaction() as session:
        job = queue.enqueue(
            session, runtime.clock, "test.hold", {"user_id": user_id}, company_id=company_id
        )
    if runtime.db.dialect != "postgresql":
        yield
        return
    with runtime.db.engine.connect() as blocker:
        blocker.execute(text("SELECT id FROM jobs WHERE id = :id FOR UPDATE"), {"id": job.id})
        yield
        blocker.rollback()


def eraser(runtime: Runtime, company_id: int, *identifiers: Identifier) -> Racer:
    """An erasure of the subject `identifiers` name, in a thread of its own."""
    return Racer(
        runtime,
        lambda session: erasure.erase(session, runtime.clock.now(), company_id, identifiers),
    )


def race_erasure(
    runtime: Runtime, company_id: int, user_id: int, erasing: Racer, racer: Racer
) -> None:
    """`erasing` held after locking user `user_id` while `racer` runs up to its lock wait
    (PostgreSQL), then both let go and finished."""
    with erasure_held_after_locking_the_user(runtime, company_id, user_id):
        erasing.start()
        settle(runtime.db, erasing, waiting=1)  # the erasure holds the user, waits for the job
        racer.start()
        settle(runtime.db, racer, waiting=2)
    erasing.join(WAIT_SECONDS)
    racer.join(WAIT_SECONDS)
