"""The ingestion operations' short token cache: reuse within the TTL, revocation after it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from heedful.http.authcache import AuthCache
from heedful.oauth import service
from heedful.oauth.service import AuthContext
from heedful.runtime import Runtime

CONTEXT = AuthContext(1, 2, 3, frozenset({"events:write"}))
EVENT = {"type": "t", "user": {"phone": "+13115552368"}}


async def test_a_lookup_is_reused_within_the_ttl_and_repeated_after_it() -> None:
    cache = AuthCache(ttl=0.2)
    calls = 0

    async def lookup() -> AuthContext:
        nonlocal calls
        calls += 1
        return CONTEXT

    assert await cache.authenticate("tok", lookup) is CONTEXT
    assert await cache.authenticate("tok", lookup) is CONTEXT
    assert calls == 1
    await asyncio.sleep(0.25)
    await cache.authenticate("tok", lookup)
    await cache.authenticate("other", lookup)
    assert calls == 3


async def test_failed_lookups_are_not_cached_and_ttl_zero_turns_it_off() -> None:
    calls = 0

    async def failing() -> AuthContext:
        nonlocal calls
        calls += 1
        raise RuntimeError("unknown token")

    cache = AuthCache(ttl=10)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await cache.authenticate("tok", failing)
    assert calls == 2

    off = AuthCache(ttl=0)
    calls = 0

    async def ok() -> AuthContext:
        nonlocal calls
        calls += 1
        return CONTEXT

    await off.authenticate("tok", ok)
    await off.authenticate("tok", ok)
    assert calls == 2


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
