"""A request body that stops coming is a 408 in the one error shape, on every path that reads
a body: the ingestion lane, `@operation` routes, the public token exchange, the admin API and
the catalog's upload URL (whose timeout is between pieces, not for the whole file).

The real-socket side (and the request-head timeout) is in tests/cli/test_stalled_clients.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from heedful.app import create_app
from heedful.runtime import Runtime
from tests.catalog.support import ndjson, product
from tests.conftest import ADMIN_TOKEN
from tests.http.test_errors import assert_error_shape, request_log

TIMEOUT = 0.1
PREFIX = b'{"type": "Order'


@pytest.fixture
async def impatient(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a 0.1-second body timeout."""
    settings = runtime.settings.model_copy(update={"body_timeout_seconds": TIMEOUT})
    app = create_app(settings, Runtime(settings, runtime.db, runtime.clock, runtime.jobs))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def stalled(first: bytes) -> AsyncIterator[bytes]:
    """`first`, then nothing, ever."""
    yield first
    await asyncio.Event().wait()


async def paced(pieces: list[bytes], pause: float) -> AsyncIterator[bytes]:
    for piece in pieces:
        await asyncio.sleep(pause)
        yield piece


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/v1/events/custom", "dev"),
        ("/v1/identity-resolution/user-identifiers", "dev"),
        ("/v1/authorization-codes/tokens", None),
        ("/admin/companies", "admin"),
    ],
)
async def test_a_body_that_stops_coming_is_a_408(
    impatient: httpx.AsyncClient,
    dev_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    path: str,
    auth: str | None,
) -> None:
    caplog.set_level(logging.INFO, logger="heedful")
    headers = {"dev": dev_headers, "admin": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}
    sent = {**headers.get(auth or "", {}), "Content-Length": "100"}

    response = await impatient.post(path, content=stalled(PREFIX), headers=sent)

    error = assert_error_shape(response, 408)
    assert error["message"] == "Request body not received in time: nothing came for 0.1 seconds"
    assert response.headers["connection"] == "close"
    line = request_log(caplog)
    assert line.status == 408 and line.error_id == error["id"]  # type: ignore[attr-defined]


async def test_a_body_with_pauses_shorter_than_the_timeout_is_read(
    impatient: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    body = b'{"type": "Order Shipped", "user": {"phone": "+13115552368"}}'
    pieces = [body[:10], body[10:20], body[20:30], body[30:]]  # 0.2 s in all

    response = await impatient.post(
        "/v1/events/custom", content=paced(pieces, TIMEOUT / 2), headers=dev_headers
    )

    assert response.status_code == 200, response.text


async def test_a_catalog_file_that_stops_coming_is_a_408_and_not_taken(
    impatient: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    started = await impatient.post("/v1/product-catalog/uploads", json={}, headers=dev_headers)
    path = httpx.URL(started.json()["uploadUrl"]).path
    body = ndjson([product(n) for n in range(1, 5)])

    stopped = await impatient.put(
        path, content=stalled(body[:20]), headers={"Content-Length": "999"}
    )

    assert_error_shape(stopped, 408)
    status = await impatient.get(
        f"/v1/product-catalog/uploads/{started.json()['uploadId']}", headers=dev_headers
    )
    assert status.json()["status"] == "initialized"
    # The timeout is between pieces: a file slower in all than the timeout is taken.
    pieces = [body[i : i + 40] for i in range(0, len(body), 40)]
    assert len(pieces) >= 4
    steady = await impatient.put(path, content=paced(pieces, TIMEOUT / 2))
    assert steady.status_code == 200, steady.text
