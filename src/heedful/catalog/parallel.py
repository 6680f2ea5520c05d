"""Catalog work fanned out to worker processes, results back in input order.

Pure (no web, no database) and shared by the CLI and the server job. One pool per process,
made on first use and kept: its workers come from a `forkserver` (a clean, single-threaded
process), never forked from the server itself, whose threads may hold locks. Small inputs
never start it: the first few batches are kept back, and if the input ends there they are
done in this process.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Below this many batches the pool's start-up and pickling cost more than it saves.
MIN_PARALLEL_BATCHES = 4
_PRELOAD = ["heedful.catalog.validator", "heedful.catalog.rows"]

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def default_workers() -> int:
    """One worker per core this process may run on; 0 (in process) on a single core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores if cores and cores > 1 else 0


def _shared_pool(size: int) -> ProcessPoolExecutor:
    """The process's pool, made once (never resized: another caller may be using it; a
    caller asking for fewer workers just keeps fewer items in flight)."""
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            _pool = ProcessPoolExecutor(max(size, default_workers()), mp_context=context)
        return _pool


def _forget_pool(broken: ProcessPoolExecutor) -> None:
    """A worker died (killed, out of memory): the next call starts a fresh pool."""
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None


def ordered_map(
    function: Callable[..., Result],
    items: Iterable[Item],
    *args: Any,
    workers: int | None = None,
    min_items: int = MIN_PARALLEL_BATCHES,
) -> Generator[Result, None, None]:
    """`function(item, *args)` for each item, in order; at most 2 items per worker in
    flight, so memory stays bounded whatever the input's length. Fewer than `min_items`
    items, or fewer than 2 workers, run in this process."""
    size = default_workers() if workers is None else workers
    source = iter(items)
    head = [item for _, item in zip(range(min_items), source, strict=False)]
    if size <= 1 or len(head) < min_items:
        for item in itertools.chain(head, source):
            yield function(item, *args)
        return
    yield from _in_pool(_shared_pool(size), function, head, source, args, 2 * size)


def _in_pool(
    pool: ProcessPoolExecutor,
    function: Callable[..., Result],
    head: list[Item],
    source: Iterator[Item],
    args: tuple[Any, ...],
    ahead: int,
) -> Iterator[Result]:
    pending: deque[Future[Result]] = deque()
    try:
        for item in head:
            pending.append(pool.submit(function, item, *args))
        for item in source:
            pending.append(pool.submit(function, item, *args))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        _forget_pool(pool)
        raise
    finally:
        for future in pending:
            future.cancel()
