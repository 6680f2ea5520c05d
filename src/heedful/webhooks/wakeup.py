"""In-process wake-ups: a commit that enqueued deliveries wakes this process's dispatchers at
once, instead of leaving them to their next poll. Other processes find the work by polling."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "heedful.webhooks.wake_on_commit"
_lock = threading.Lock()
_listeners: dict[int, Callable[[], None]] = {}


def subscribe(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` (from any thread) after every commit that enqueued a delivery; returns
    the function that unsubscribes it."""
    key = id(callback)
    with _lock:
        _listeners[key] = callback

    def unsubscribe() -> None:
        with _lock:
            _listeners.pop(key, None)

    return unsubscribe


def wake_all() -> None:
    with _lock:
        callbacks = list(_listeners.values())
    for callback in callbacks:
        callback()


def wake_after_commit(session: Session) -> None:
    """Arrange one wake-up when the session's current transaction commits (none on rollback)."""
    transaction = session.get_transaction()
    if transaction is None or session.info.get(_KEY) is transaction:
        return
    session.info[_KEY] = transaction

    def committed(_session: Any) -> None:
        wake_all()

    event.listen(session, "after_commit", committed, once=True)
