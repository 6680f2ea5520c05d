from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, literal, make_url, select
from sqlalchemy.exc import DBAPIError

from heedful.storage.db import Database
from heedful.storage.models import Company
from heedful.storage.models.base import UTCDateTime
from heedful.storage.models.identity import UserIdentifier


def test_reads_do_not_wait_for_a_writer(db: Database) -> None:
    """On SQLite writers take the lock at BEGIN; readers must not queue behind them."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite locking")
    writing, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with db.transaction() as session:
            session.execute(select(1))
            writing.set()
            release.wait(10)

    writer = threading.Thread(target=hold_the_write_lock)
    writer.start()
    try:
        assert writing.wait(5)
        started = time.monotonic()
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(Company)) == 0
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        writer.join()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_works(url: str) -> None:
    database = Database(url)
    try:
        with database.read() as session:
            assert session.scalar(select(1)) == 1
    finally:
        database.dispose()


def test_a_read_inside_a_write_transaction_works(db: Database) -> None:
    with db.transaction() as outer:
        outer.execute(select(1))
        with db.read() as inner:
            assert inner.scalar(select(1)) == 1


def test_a_second_writer_waits_for_the_first_then_proceeds(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite admits one writer at a time")
    holding = threading.Event()

    def first_writer() -> None:
        with db.transaction() as session:
            session.execute(select(1))
            holding.set()
            time.sleep(0.2)

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert holding.wait(5)
    started = time.monotonic()
    with db.transaction() as session:
        session.execute(select(1))
    waited = time.monotonic() - started
    thread.join()

    assert 0.1 < waited < 5


@pytest.mark.parametrize(
    ("zone", "moment"),
    [
        ("America/New_York", datetime(1, 1, 1, tzinfo=UTC)),
        ("Asia/Tokyo", datetime(9999, 12, 31, 23, 59, tzinfo=UTC)),
    ],
)
def test_timestamps_read_back_whatever_the_servers_time_zone(
    database_url: str, zone: str, moment: datetime
) -> None:
    """PostgreSQL hands timestamptz values over in the session's time zone (the server's
    default unless set), and one shifted past year 1 or 9999 cannot be read by Python."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        url = url.update_query_dict({"options": f"-c timezone={zone}"})
    database = Database(url.render_as_string(hide_password=False))
    try:
        with database.read() as session:
            assert session.scalar(select(literal(moment, UTCDateTime()))) == moment
    finally:
        database.dispose()


def test_database_errors_do_not_quote_the_statements_parameters(db: Database) -> None:
    """Errors reach the log and `jobs.last_error`: a subscriber's phone must not go with them."""
    phone = "+13115552368"
    row = {
        "company_id": 987654,  # no such company or user: a foreign key violation
        "user_id": 987654,
        "kind": "phone",
        "name": "",
        "value": phone,
        "created_at": datetime.now(UTC),
    }

    with pytest.raises(DBAPIError) as caught, db.transaction() as session:
        session.execute(insert(UserIdentifier), [row])

    assert "user_identifiers" in str(caught.value)
    assert phone not in str(caught.value) and phone not in repr(caught.value)
