from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from heedful.storage.db import Database
from heedful.storage.models import Company


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
