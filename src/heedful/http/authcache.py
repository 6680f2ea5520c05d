"""A short-lived, per-process cache of bearer-token lookups, for the high-rate operations.

Looking a token up costs a database transaction per request, which at ingestion rates (several
thousand requests/s) costs more than the write itself. The ingestion operations (events and
custom attributes; heedful.http.ingestion) reuse a successful lookup for
`HEEDFUL_AUTH_CACHE_SECONDS` (default 1 s): a revoked or expired token keeps working on those
operations for at most that long, in each process. Every other operation looks the token up on
every request. Failed lookups are never cached; concurrent misses share one lookup; a token in
steady use is looked up again in the background halfway through its TTL, so no request waits
for that lookup. Set the setting to 0 to turn the cache off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from heedful.core.crypto import hash_secret
from heedful.oauth.service import AuthContext

MAX_ENTRIES = 10_000


# A lookup for a token in use starts once this much of its entry's TTL has passed, in the
# background: a request finds the token still cached and never waits for the refresh.
REFRESH_AFTER = 0.5

Lookup = Callable[[], Awaitable[AuthContext]]


class AuthCache:
    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        # key -> (context, refresh from, expires at), on the monotonic clock
        self._entries: dict[str, tuple[AuthContext, float, float]] = {}
        self._lookups: dict[str, asyncio.Task[AuthContext]] = {}

    async def authenticate(self, token: str, lookup: Lookup) -> AuthContext:
        """The cached context of `token` while fresh, else the result of `lookup()`.

        Concurrent misses for one token share a single lookup: when an entry expires under
        load, every request in flight would otherwise look the token up at once.
        """
        if self.ttl <= 0:
            return await lookup()
        hit = self.fresh(token, lookup)
        if hit is not None:
            return hit
        key = hash_secret(token)
        task = self._lookups.get(key) or self._start(key, lookup)
        # Shielded: a caller that goes away must not cancel the lookup others are awaiting.
        return await asyncio.shield(task)

    def fresh(self, token: str, refresh: Lookup | None = None) -> AuthContext | None:
        """The cached context of `token` if it is fresh (no await: the usual case, and the
        one the ingestion path checks first). Past REFRESH_AFTER of its TTL, `refresh()`
        starts in the background (once), so a token in steady use is never waited for; a
        refresh that fails leaves the entry to expire when it would have."""
        key = hash_secret(token)  # the token itself is not kept
        hit = self._entries.get(key)
        if hit is None:
            return None
        auth, refresh_from, expires_at = hit
        now = time.monotonic()
        if now >= expires_at:
            return None
        if now >= refresh_from and refresh is not None and key not in self._lookups:
            self._start(key, refresh)
        return auth

    def _start(self, key: str, lookup: Lookup) -> asyncio.Task[AuthContext]:
        task = asyncio.ensure_future(lookup())
        self._lookups[key] = task
        task.add_done_callback(lambda done: self._finish(key, done))
        return task

    def _finish(self, key: str, task: asyncio.Task[AuthContext]) -> None:
        del self._lookups[key]
        if task.cancelled() or task.exception() is not None:
            return  # failed lookups are never cached
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        now = time.monotonic()
        self._entries[key] = (task.result(), now + self.ttl * REFRESH_AFTER, now + self.ttl)
