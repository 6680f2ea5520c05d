"""Group commit: many requests share one transaction; each is answered when its batch commits.

One writer thread per process (per `Runtime`). A request hands it a *write* (a batch function
and its payload) and awaits the outcome; the writes of one turn of the event loop are handed
over together, with one wake-up of the thread. The thread takes everything queued, runs it in one
transaction and commits; only then are the requests' futures resolved. While it commits, new
writes queue up and form the next batch, so the batch size follows the load: one write per
transaction when idle, hundreds under load. A crash loses only writes whose requests were never
answered.

A batch function is `fn(session, clock, payloads) -> outcomes`, one outcome per payload: a
result, or a `HeedfulError` *instance* for a payload that is refused (it must then have written
nothing for that payload). If the transaction fails (a lock timeout, a deadlock, a unique
constraint another process won, a foreign key to a user erased meanwhile: any `DBAPIError`, or
`ConcurrentChange`), the whole batch is retried, and the retry reads the users again; if it
keeps failing, each write is retried in a transaction of its own, so one bad write cannot fail
its neighbours. (A driver error from a cursor used directly must reach here as SQLAlchemy's:
see `heedful.storage.db.driver_error`; anything else splits the batch at once.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from heedful.core.clock import Clock
from heedful.errors import HeedfulError
from heedful.storage.db import ConcurrentChange, Database

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's own locking still applies
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("heedful.ingest")
P = TypeVar("P")
R = TypeVar("R")
BatchFn = Callable[[Session, Clock, Sequence[Any]], Sequence[Any]]

MAX_BATCH = 1000
IDLE_EXIT_SECONDS = 5.0
BATCH_ATTEMPTS = 3


class _Write(NamedTuple):
    fn: BatchFn
    payload: Any
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class GroupCommitWriter:
    def __init__(self, db: Database, clock: Clock, *, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.clock = clock
        self.max_batch = max_batch
        self._queue: deque[_Write] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._running = False
        self._waiting = False  # the thread waits for writes: a new one must wake it
        # Writes of the current turn of each event loop, not yet handed to the thread.
        self._gathered: dict[asyncio.AbstractEventLoop, list[_Write]] = {}
        self._turn = ProcessTurn.for_database(db)
        self.batches = 0
        self.writes = 0

    async def submit(
        self, fn: Callable[[Session, Clock, Sequence[P]], Sequence[R | HeedfulError]], payload: P
    ) -> R:
        """Queue `payload` for `fn`; returns once the transaction holding it has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        gathered = self._gathered.get(loop)
        if gathered is None:
            # The first write of this turn of the event loop: the writes of every request the
            # loop handles in this turn go to the writer thread together, with one wake-up.
            gathered = self._gathered[loop] = []
            loop.call_soon(self._hand_over, loop)
        gathered.append(_Write(fn, payload, future, loop))
        result: R = await future
        return result

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        writes = self._gathered.pop(loop)
        with self._ready:
            self._queue.extend(writes)
            if self._waiting:
                self._ready.notify()
            elif not self._running:
                self._running = True
                threading.Thread(target=self._run, name="heedful-ingest", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._waiting = True
                    woken = self._ready.wait(timeout=IDLE_EXIT_SECONDS)
                    self._waiting = False
                    if not woken and not self._queue:
                        # Idle: the thread ends; the next submit starts another.
                        self._running = False
                        return
                count = min(len(self._queue), self.max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
            self._process(batch)

    def _process(self, batch: list[_Write]) -> None:
        try:
            outcomes = self._commit_with_retries(batch)
        except Exception as exc:
            if len(batch) == 1:
                log.exception("ingest write failed")
                outcomes = [exc]
            else:
                log.warning("ingest batch of %d failed (%s); writing one by one", len(batch), exc)
                outcomes = [self._commit_alone(write) for write in batch]
        self.batches += 1
        self.writes += len(batch)
        _deliver(batch, outcomes)

    def _commit_alone(self, write: _Write) -> Any:
        try:
            return self._commit_with_retries([write])[0]
        except Exception as exc:
            log.exception("ingest write failed")
            return exc

    def _commit_with_retries(self, batch: list[_Write]) -> list[Any]:
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                return self._commit(batch)
            except (DBAPIError, ConcurrentChange):
                # Lock timeouts, deadlocks, serialization failures, unique races with another
                # process, users erased or merged away after this batch found them: the
                # transaction is gone, so the whole batch runs again (and finds them again).
                if attempt == BATCH_ATTEMPTS:
                    raise
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    def _commit(self, batch: list[_Write]) -> list[Any]:
        outcomes: list[Any] = [None] * len(batch)
        with self._turn, self.db.transaction() as session:
            for fn, positions in _group_by_function(batch).items():
                results = fn(session, self.clock, [batch[i].payload for i in positions])
                if len(results) != len(positions):
                    raise RuntimeError(f"{fn.__name__} returned {len(results)} outcomes")
                for position, result in zip(positions, results, strict=True):
                    outcomes[position] = result
        return outcomes


class ProcessTurn:
    """SQLite: the writers of several processes take turns through an advisory file lock.

    SQLite lets one writer in at a time and makes the others poll (sleeping up to 100 ms
    between tries); a blocking `flock` instead hands the turn over the moment a commit ends.
    On PostgreSQL (or an in-memory database) this does nothing.
    """

    def __init__(self, path: str | None) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path else None

    @classmethod
    def for_database(cls, db: Database) -> ProcessTurn:
        name = db.engine.url.database
        if db.dialect != "sqlite" or not name or name == ":memory:" or fcntl is None:
            return cls(None)
        return cls(f"{name}-ingest.lock")

    def __enter__(self) -> None:
        if self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


def _group_by_function(batch: list[_Write]) -> dict[BatchFn, list[int]]:
    groups: dict[BatchFn, list[int]] = {}
    for position, write in enumerate(batch):
        groups.setdefault(write.fn, []).append(position)
    return groups


def _deliver(batch: list[_Write], outcomes: list[Any]) -> None:
    """Resolve the futures, with one wake-up per event loop (not one per request)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for write, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(write.loop, []).append((write.future, outcome))
    for loop, pairs in by_loop.items():
        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, pairs)


def _resolve(pairs: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in pairs:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
