"""Per token, per operation, per second request limits (fixed one-second windows).

Unauthenticated operations are counted per caller instead (a string key: client id or address).

Counters live in the process: with several API processes each enforces the limit on its own
share of traffic. That keeps the hot path free of database round trips.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from heedful.errors import RateLimited


@dataclass(frozen=True)
class Allowance:
    limit: int
    remaining: int

    def headers(self) -> dict[str, str]:
        return {"x-ratelimit-limit": str(self.limit), "x-ratelimit-remaining": str(self.remaining)}


class RateLimiter:
    def __init__(
        self,
        limit_for: Callable[[str], int | None],
        now: Callable[[], float] = time.time,
    ) -> None:
        self._limit_for = limit_for
        self._now = now
        self._window = -1
        self._counts: dict[tuple[int | str, str], int] = {}

    def hit(self, token_id: int | str, operation_id: str) -> Allowance | None:
        """Count one request; raise RateLimited (with headers) when over. None if unlimited."""
        limit = self._limit_for(operation_id)
        if limit is None:
            return None
        moment = self._now()
        window = math.floor(moment)
        if window != self._window:
            self._window, self._counts = window, {}
        key = (token_id, operation_id)
        used = self._counts.get(key, 0) + 1
        self._counts[key] = used
        allowance = Allowance(limit, max(limit - used, 0))
        if used > limit:
            retry_after = max(1, math.ceil(window + 1 - moment))
            raise RateLimited(headers={**allowance.headers(), "Retry-After": str(retry_after)})
        return allowance
