"""Engines and transactions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "heedful_read_only"
SQLITE_POOL_SIZE = 48


class ConcurrentChange(Exception):
    """A row this transaction read was deleted or moved by another transaction that has
    committed since (a user erased or merged away, say): running it again sees the change."""


def driver_error(connection: Connection, what: str, exc: Exception) -> StatementError:
    """The driver's own exception, raised by a cursor used directly (the ingestion path's
    fast statements), as SQLAlchemy's: `IntegrityError`, `OperationalError`... so callers
    catch it whichever way the statement ran. `what` stands in for the statement in the
    message, and the parameters (identifiers, event data) are left out of it."""
    dbapi_error = connection.dialect.loaded_dbapi.Error
    return DBAPIError.instance(what, None, exc, dbapi_error, hide_parameters=True)


def serialise_until_commit(session: Session, key: int) -> None:
    """Make every transaction that calls this with `key` wait for the previous one to end.

    PostgreSQL: a transaction-level advisory lock (released at commit or rollback), and under
    read committed what the previous holder committed is visible to the next statement. SQLite
    needs nothing: a write transaction already begins with BEGIN IMMEDIATE, one at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# PostgreSQL's "try again" errors: the transaction was cancelled as a deadlock's victim, or
# could not be serialised. Nothing it did remains, so running it again is safe.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def is_retryable(exc: DBAPIError) -> bool:
    """Whether `exc` cancelled its transaction only to let another one through."""
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def normalise_url(url: str) -> str:
    """Accept the usual `postgresql://` spelling and use psycopg 3 for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_db_engine(url: str) -> Engine:
    """An engine whose errors never quote a statement's parameters (`hide_parameters`): they
    are subscribers' identifiers and data, and errors end up in logs and in `jobs.last_error`,
    which the privacy erasure does not read."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return _postgres_engine(url)


def _postgres_engine(url: str) -> Engine:
    engine = create_engine(
        url, pool_pre_ping=True, pool_size=20, max_overflow=20, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _utc(dbapi_conn: Any, _record: Any) -> None:
        # timestamptz values come back in the session's time zone, which is the server's
        # default unless set: in a zone west (east) of UTC a moment stored near year 1
        # (9999) reads back before year 1 (after 9999), which Python cannot hold, and the
        # read fails. UTC sessions hand back what was stored. (Autocommit, so the SET is not
        # undone by the pool's rollback.)
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        dbapi_conn.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.autocommit = autocommit

    return engine


def _sqlite_engine(url: str) -> Engine:
    pooling: dict[str, Any] = {}
    if make_url(url).database not in (None, "", ":memory:"):
        # A file database: keep a connection per concurrent thread (the API's thread pool
        # runs up to 40); an overflow connection is opened, set up and closed on every use,
        # which costs more than the query it serves. (In-memory databases use one
        # connection per thread and take no pool sizes.)
        pooling = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE}
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        hide_parameters=True,
        **pooling,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own BEGIN handling defers locks; we issue BEGIN IMMEDIATE ourselves
        # (see _begin) so that a writer waits on busy_timeout instead of failing mid-way.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        _enter_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Readers take no lock in WAL mode: a read-only transaction begins deferred, so
        # lookups (every request's token check) never queue behind writers or each other.
        readonly = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


class WriterTurn:
    """SQLite admits one writer at a time and makes the others poll, sleeping up to 100 ms
    between tries; writers of one process instead queue on this lock (one per database file)
    and get the database the moment the previous commit ends. Reentrant, so a nested
    transaction behaves as it would without it; a writer that waits longer than SQLite's
    busy timeout goes on and lets SQLite decide, as before. (Across processes, the ingestion
    writers take turns through a file lock: heedful.events.writer.ProcessTurn.)"""

    _locks: ClassVar[dict[str, threading.RLock]] = {}
    _guard = threading.Lock()

    def __init__(self, path: str) -> None:
        with self._guard:
            self._lock = self._locks.setdefault(os.path.realpath(path), threading.RLock())
        self._held = threading.local()

    def __enter__(self) -> None:
        acquired = self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        self._stack().append(acquired)

    def __exit__(self, *exc: object) -> None:
        if self._stack().pop():
            self._lock.release()

    def _stack(self) -> list[bool]:
        stack: list[bool] | None = getattr(self._held, "stack", None)
        if stack is None:
            stack = self._held.stack = []
        return stack


def _enter_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL. On a new file that takes an exclusive lock, and when another
    process is switching it at the same moment SQLite answers "database is locked" at once,
    without waiting out the busy timeout (two `heedful serve` starting on one new file: the
    second failed to start). So try again until the busy timeout has passed."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _writer_turn(engine: Engine) -> AbstractContextManager[object]:
    name = engine.url.database
    if engine.dialect.name != "sqlite" or not name or name == ":memory:":
        return nullcontext()  # PostgreSQL queues writers itself
    return WriterTurn(name)


class Database:
    """One engine and its session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = create_db_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )
        self._writer_turn = _writer_turn(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits when the block ends and rolls back if it raises."""
        with self._writer_turn, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction for reading only. On SQLite it takes no write lock (so it must not
        write: a write in it could fail on a busy database instead of waiting its turn)."""
        with self._read_sessions() as session, session.begin():
            yield session

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()
