"""A short-lived, per-process cache of bearer-token lookups, for the high-rate operations.

Looking a token up costs a database transaction per request, which at ingestion rates (several
thousand requests/s) costs more than the write itself. Operations declared with
`@operation(..., auth_cache=True)` (events and custom attributes) reuse a successful lookup for
`HEEDFUL_AUTH_CACHE_SECONDS` (default 1 s): a revoked or expired token keeps working on those
operations for at most that long, in each process. Every other operation looks the token up on
every request. Failed lookups are never cached. Set the setting to 0 to turn the cache off.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from heedful.core.crypto import hash_secret
from heedful.oauth.service import AuthContext

if TYPE_CHECKING:
    pass

MAX_ENTRIES = 10_000


class AuthCache:
    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[AuthContext, float]] = {}

    async def authenticate(
        self, token: str, lookup: Callable[[], Awaitable[AuthContext]]
    ) -> AuthContext:
        """The cached context of `token` while fresh, else `await lookup()` (and cache it)."""
        if self.ttl <= 0:
            return await lookup()
        key = hash_secret(token)  # the token itself is not kept
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        auth = await lookup()
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (auth, now + self.ttl)
        return auth
