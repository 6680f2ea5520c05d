"""Job kinds and their handlers. Each area registers its handlers in `bootstrap`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from heedful.core.clock import Clock


@dataclass(frozen=True)
class JobContext:
    job_id: int
    kind: str
    company_id: int | None
    payload: dict[str, Any]
    attempt: int
    clock: Clock


Handler = Callable[[Session, JobContext], None]


class RetryLater(Exception):
    """A handler cannot do its work yet (something it needs is busy for a while): its writes
    roll back and the job runs again after `delay` without spending one of its attempts, so
    a wait that outlasts the retry schedule does not dead-letter it."""

    def __init__(self, message: str, delay: timedelta = timedelta(seconds=5)) -> None:
        super().__init__(message)
        self.delay = delay


def failed_kind(kind: str) -> str:
    """The follow-up job a dead `kind` job leaves, when a handler is registered for it: its
    payload plus `failed_job_id` and `error`, so the work the job stood for can end."""
    return f"{kind}.failed"


class JobRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            if kind in self._handlers:
                raise ValueError(f"job kind {kind!r} is already registered")
            self._handlers[kind] = handler
            return handler

        return decorate

    def handler_for(self, kind: str) -> Handler | None:
        return self._handlers.get(kind)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)
