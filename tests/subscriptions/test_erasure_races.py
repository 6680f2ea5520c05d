"""Unsubscribe and inbound texts racing an erasure of the same subscriber.

On PostgreSQL each race is played in a fixed order: another connection holds a row lock the
erasure needs (a job naming the subject), so the erasure stops just after locking the user;
each step waits until the expected number of backends wait on a lock (`pg_stat_activity`).
SQLite runs one writer at a time, so there the racers simply queue behind the erasure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import text

from heedful.errors import NotFound
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.identity.identifiers import Identifier
from heedful.jobs import queue
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.privacy import erasure
from heedful.runtime import Runtime
from heedful.storage.db import Database
from heedful.subscriptions import admin, service
from heedful.subscriptions.schemas import UnsubscribeSubscriptionsRequestDto
from tests.subscriptions.support import PHONE, make_source, subscribe, subscriptions

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
    deadline = time.monotonic() + WAIT_SECONDS
    while lock_waiters(db) < waiting:
        assert racer.is_alive(), f"ended before waiting on a lock: {racer.outcome}"
        assert time.monotonic() < deadline, f"never saw {waiting} lock waits"
        time.sleep(0.01)


@contextmanager
def erasure_held_after_locking_the_user(
    runtime: Runtime, company_id: int, user_id: int
) -> Iterator[None]:
    """PostgreSQL: another transaction locks a job naming the subject, so an erasure stops at
    that job (scrubbed before the users are deleted) holding the lock on the user, until the
    block ends. SQLite: nothing to hold."""
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


def erase_phone(runtime: Runtime, company_id: int) -> Racer:
    phone = Identifier(ident.PHONE, PHONE)
    return Racer(
        runtime, lambda session: erasure.erase(session, runtime.clock.now(), company_id, [phone])
    )


@pytest.fixture
async def subscribed(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> int:
    """The phone's user, subscribed to MARKETING texts (single opt-in)."""
    source = make_source(runtime, dev.company.id, opt_in="single")
    assert (await subscribe(client, dev_headers, source, phone=PHONE)).status_code == 202
    with runtime.db.read() as session:
        user_id = identity.find_user(session, dev.company.id, Identifier(ident.PHONE, PHONE))
    assert user_id is not None
    return user_id


def assert_erased(eraser: Racer, runtime: Runtime) -> None:
    assert len(eraser.outcome) == 1 and isinstance(eraser.outcome[0], erasure.Report)
    assert eraser.outcome[0].users == 1
    assert subscriptions(runtime) == []


async def test_unsubscribe_racing_an_erasure_is_404_not_a_deadlock(
    runtime: Runtime, dev: DevelopmentSetup, subscribed: int
) -> None:
    """Erasure locks the user, then deletes its subscriptions; unsubscribe locked the
    subscriptions, then (inserting its consent record) waited for the user's key: on
    PostgreSQL a deadlock, and one of the two was aborted (the unsubscribe: a 500)."""
    company_id = dev.company.id
    body = msgspec.convert({"user": {"phone": PHONE}}, UnsubscribeSubscriptionsRequestDto)
    eraser = erase_phone(runtime, company_id)
    unsubscriber = Racer(
        runtime, lambda session: service.unsubscribe(session, runtime.clock, company_id, body)
    )

    with erasure_held_after_locking_the_user(runtime, company_id, subscribed):
        eraser.start()
        settle(runtime.db, eraser, waiting=1)  # the erasure holds the user, waits for the job
        unsubscriber.start()
        settle(runtime.db, unsubscriber, waiting=2)
    eraser.join(WAIT_SECONDS)
    unsubscriber.join(WAIT_SECONDS)

    assert_erased(eraser, runtime)
    assert len(unsubscriber.outcome) == 1
    assert isinstance(unsubscriber.outcome[0], NotFound), unsubscriber.outcome


async def test_inbound_text_racing_an_erasure_is_404_not_a_foreign_key_error(
    runtime: Runtime, dev: DevelopmentSetup, subscribed: int
) -> None:
    """The simulated carrier found the user, then recorded the text for it; on PostgreSQL the
    insert waited for the erasure holding the user and then broke its foreign key (a 500)."""
    eraser = erase_phone(runtime, dev.company.id)
    texter = Racer(
        runtime, lambda session: admin.receive_text(session, runtime.clock, PHONE, "STOP", None)
    )

    with erasure_held_after_locking_the_user(runtime, dev.company.id, subscribed):
        eraser.start()
        settle(runtime.db, eraser, waiting=1)
        texter.start()
        settle(runtime.db, texter, waiting=2)
    eraser.join(WAIT_SECONDS)
    texter.join(WAIT_SECONDS)

    assert_erased(eraser, runtime)
    assert len(texter.outcome) == 1
    assert isinstance(texter.outcome[0], NotFound), texter.outcome
