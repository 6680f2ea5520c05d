"""A short-lived, per-process cache of bearer-token lookups, for the high-rate operations.

Looking a token up costs a database transaction per request, which at ingestion rates (several
thousand requests/s) costs more than the write itself. The ingestion operations (events and
custom attributes; heedful.http.ingestion) reuse a successful lookup for
`HEEDFUL_AUTH_CACHE_SECONDS` (default 1 s): a revoked or expired token keeps working on those
operations for at most that long, in each process. Every other operation looks the token up on
every request. Failed lookups are never cached; concurrent misses share one lookup. Set the
setting to 0 to turn the cache off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from heedful.core.crypto import hash_secret
from heedful.oauth.service import AuthContext

MAX_ENTRIES = 10_000


class AuthCache:
    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[AuthContext, float]] = {}
        self._lookups: dict[str, asyncio.Task[AuthContext]] = {}

    async def authenticate(
        self, token: str, lookup: Callable[[], Awaitable[AuthContext]]
    ) -> AuthContext:
        """The cached context of `token` while fresh, else the result of `lookup()`.

        Concurrent misses for one token share a single lookup: when an entry expires under
        load, every request in flight would otherwise look the token up at once.
        """
        if self.ttl <= 0:
            return await lookup()
        hit = self.fresh(token)
        if hit is not None:
            return hit
        key = hash_secret(token)
        task = self._lookups.get(key)
        if task is None:
            task = asyncio.ensure_future(lookup())
            self._lookups[key] = task
            task.add_done_callback(lambda done: self._finish(key, done))
        # Shielded: a caller that goes away must not cancel the lookup others are awaiting.
        return await asyncio.shield(task)

    def fresh(self, token: str) -> AuthContext | None:
        """The cached context of `token` if it is fresh (no await: the usual case, and the
        one the ingestion path checks first)."""
        hit = self._entries.get(hash_secret(token))  # the token itself is not kept
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        return None

    def _finish(self, key: str, task: asyncio.Task[AuthContext]) -> None:
        del self._lookups[key]
        if task.cancelled() or task.exception() is not None:
            return  # failed lookups are never cached
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (task.result(), time.monotonic() + self.ttl)
