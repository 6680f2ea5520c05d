"""The ingestion lane: the five write operations served ahead of Starlette keep the contract
of every other operation (auth, scope, limits, errors, logging, request ids)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from heedful.app import create_app
from heedful.http.ingestion import IngestionEndpoint
from heedful.http.ratelimit import RateLimiter
from heedful.ops.coverage import app_routes
from heedful.runtime import Runtime
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape, request_log

EVENT = {"type": "Order Shipped", "user": {"phone": "+13115552368"}}
INGESTION_PATHS = {
    "/v1/events/ecommerce/product-view",
    "/v1/events/ecommerce/add-to-cart",
    "/v1/events/ecommerce/purchase",
    "/v1/events/custom",
    "/v1/attributes/custom",
}


def test_the_five_ingestion_operations_are_ingestion_endpoints(runtime: Runtime) -> None:
    found = set()
    for mount in app_routes(create_app(runtime.settings, runtime)):
        for route in getattr(mount, "routes", []):
            if isinstance(route.endpoint, IngestionEndpoint):
                found.add(mount.path + route.path)
    assert found == INGESTION_PATHS


async def test_an_answer_carries_a_request_id_and_is_logged(
    client: httpx.AsyncClient, dev_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heedful")
    response = await client.post("/v1/events/custom", json=EVENT, headers=dev_headers)

    assert response.status_code == 200 and response.json() == {}
    assert response.headers["content-type"] == "application/json"
    line = request_log(caplog)
    assert line.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]
    assert line.operation == "postCustomEvents"  # type: ignore[attr-defined]
    assert line.status == 200 and line.company_id  # type: ignore[attr-defined]


async def test_errors_keep_the_one_shape_and_reach_the_log(
    client: httpx.AsyncClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="heedful")
    missing = await client.post("/v1/events/custom", json=EVENT)
    assert "missing bearer token" in str(assert_error_shape(missing, 401)["message"])

    reader = make_tenant(runtime, scopes=["attributes:write"])
    headers = reader.headers
    forbidden = await client.post("/v1/events/custom", json=EVENT, headers=headers)
    assert "'events:write'" in str(assert_error_shape(forbidden, 403)["message"])

    bad = await client.post("/v1/attributes/custom", json={"user": {}}, headers=headers)
    error = assert_error_shape(bad, 400)
    assert "`properties`" in str(error["message"])
    assert request_log(caplog).error_id == error["id"]  # type: ignore[attr-defined]


async def test_other_methods_on_an_ingestion_path_are_405(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/events/custom", headers=dev_headers)
    assert_error_shape(response, 405)


async def test_a_body_in_several_parts_is_put_together(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b'{"type": "Split", "user": '
        yield b'{"email": "split@example.com"}}'

    response = await client.post("/v1/events/custom", content=parts(), headers=dev_headers)
    assert response.status_code == 200, response.text


@pytest.fixture
async def small(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A server with a 64-byte body limit and 2 requests per second per operation."""
    settings = runtime.settings.model_copy(
        update={"max_body_bytes": 64, "rate_limits": "on", "rate_limit_default": 2}
    )
    limited = Runtime(settings, runtime.db, runtime.clock, runtime.jobs)
    # One one-second window for the whole test: on the wall clock, its requests could
    # straddle a second's boundary and all pass.
    limited.limiter = RateLimiter(settings.rate_limit_for, now=lambda: 1_000.5)
    app = create_app(settings, limited)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def test_a_body_over_the_limit_is_413_declared_or_streamed(
    small: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    declared = await small.post("/v1/events/custom", content=b"x" * 65, headers=dev_headers)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 10

    streamed = await small.post("/v1/events/custom", content=chunks(), headers=dev_headers)
    assert "64 bytes" in str(assert_error_shape(declared, 413)["message"])
    assert_error_shape(streamed, 413)


async def test_rate_limits_apply_with_their_headers(
    small: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    body = {"type": "t", "user": {"phone": "+13115552368"}}
    answers = [await small.post("/v1/events/custom", json=body, headers=dev_headers) for _ in "abc"]

    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert answers[0].headers["x-ratelimit-limit"] == "2"
    assert answers[1].headers["x-ratelimit-remaining"] == "0"
    limited = answers[2]
    assert_error_shape(limited, 429)
    assert limited.headers["retry-after"] and limited.headers["x-ratelimit-limit"] == "2"
