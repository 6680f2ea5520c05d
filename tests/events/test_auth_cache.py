"""The ingestion operations' short token cache: reuse within the TTL, revocation after it."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from heedful.http.authcache import AuthCache
from heedful.oauth import service
from heedful.oauth.service import AuthContext
from heedful.runtime import Runtime

CONTEXT = AuthContext(1, 2, 3, frozenset({"events:write"}))
EVENT = {"type": "t", "user": {"phone": "+13115552368"}}


class Lookups:
    """A lookup that counts its calls, optionally slow or failing."""

    def __init__(self, delay: float = 0, fails: bool = False) -> None:
        self.calls = 0
        self.delay = delay
        self.fails = fails

    async def __call__(self) -> AuthContext:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fails:
            raise RuntimeError("unknown token")
        return CONTEXT


async def test_a_lookup_is_reused_within_the_ttl_and_repeated_after_it() -> None:
    cache = AuthCache(ttl=0.2)
    lookup = Lookups()
    assert await cache.authenticate("tok", lookup) is CONTEXT
    assert await cache.authenticate("tok", lookup) is CONTEXT
    assert lookup.calls == 1
    await asyncio.sleep(0.25)
    await cache.authenticate("tok", lookup)
    await cache.authenticate("other", lookup)
    assert lookup.calls == 3


async def test_a_token_in_use_is_refreshed_in_the_background_before_it_expires() -> None:
    cache = AuthCache(ttl=0.4)
    lookup = Lookups(delay=0.05)
    await cache.authenticate("tok", lookup)
    await asyncio.sleep(0.25)  # past half the TTL: served at once, refreshed behind
    started = time.monotonic()
    assert await cache.authenticate("tok", lookup) is CONTEXT
    assert time.monotonic() - started < 0.04  # did not wait for the 50 ms lookup
    await asyncio.sleep(0.1)
    assert lookup.calls == 2
    await asyncio.sleep(0.15)  # past the first entry's expiry: the refreshed one serves
    assert cache.fresh("tok") is CONTEXT
    assert lookup.calls == 2


async def test_a_failed_refresh_leaves_the_entry_to_expire_on_time() -> None:
    cache = AuthCache(ttl=0.3)
    await cache.authenticate("tok", Lookups())
    await asyncio.sleep(0.2)
    revoked = Lookups(fails=True)
    assert cache.fresh("tok", revoked) is CONTEXT  # still within the TTL
    await asyncio.sleep(0.02)
    assert revoked.calls == 1
    await asyncio.sleep(0.1)
    assert cache.fresh("tok", revoked) is None
    with pytest.raises(RuntimeError):
        await cache.authenticate("tok", revoked)


async def test_concurrent_misses_share_one_lookup() -> None:
    cache = AuthCache(ttl=10)
    lookup = Lookups(delay=0.05)
    results = await asyncio.gather(*(cache.authenticate("tok", lookup) for _ in range(50)))
    assert results == [CONTEXT] * 50
    assert lookup.calls == 1


async def test_a_caller_going_away_does_not_cancel_the_shared_lookup() -> None:
    cache = AuthCache(ttl=10)
    lookup = Lookups(delay=0.05)
    first = asyncio.ensure_future(cache.authenticate("tok", lookup))
    second = asyncio.ensure_future(cache.authenticate("tok", lookup))
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second is CONTEXT
    assert lookup.calls == 1


async def test_failed_lookups_are_not_cached_and_ttl_zero_turns_it_off() -> None:
    cache = AuthCache(ttl=10)
    failing = Lookups(fails=True)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await cache.authenticate("tok", failing)
    assert failing.calls == 2

    off = AuthCache(ttl=0)
    lookup = Lookups()
    await off.authenticate("tok", lookup)
    await off.authenticate("tok", lookup)
    assert lookup.calls == 2


async def test_the_cache_keeps_hashes_not_tokens_and_stays_bounded() -> None:
    cache = AuthCache(ttl=10, max_entries=2)
    lookup = Lookups()
    tokens = [f"hdf_secret_token_{n}" for n in range(3)]
    for token in tokens:
        await cache.authenticate(token, lookup)
    assert "hdf_secret_token" not in repr(vars(cache))
    await cache.authenticate(tokens[2], lookup)
    assert lookup.calls == 3
    await cache.authenticate(tokens[0], lookup)  # cleared when full
    assert lookup.calls == 4


async def test_an_unknown_token_is_refused_every_time_not_cached(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Authorization": "Bearer hdf_unknown_" + "y" * 30}
    for _ in range(2):
        response = await client.post("/v1/events/custom", json=EVENT, headers=headers)
        assert response.status_code == 401


async def test_revocation_reaches_ingestion_within_the_ttl_and_other_operations_at_once(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    key = dev_headers["Authorization"].removeprefix("Bearer ")
    assert (
        await client.post("/v1/events/custom", json=EVENT, headers=dev_headers)
    ).status_code == 200
    with runtime.db.transaction() as session:
        service.revoke_token(session, runtime.clock, key)

    cached = await client.post("/v1/events/custom", json=EVENT, headers=dev_headers)
    me = await client.get("/v1/me", headers=dev_headers)
    await asyncio.sleep(runtime.settings.auth_cache_seconds + 0.1)
    later = await client.post("/v1/events/custom", json=EVENT, headers=dev_headers)

    assert cached.status_code == 200
    assert me.status_code == 401
    assert later.status_code == 401
