"""A request with more than one `Authorization` header is refused, the same way on every path.

Which credential counts is a guess, and the ingestion lane guessed the last header while the
other operations took the first: one request could act as two different companies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from heedful.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape

PHONE = {"phone": "+13115552368"}
CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/me", None),
    ("POST", "/v1/events/custom", {"type": "t", "user": PHONE}),
    ("POST", "/v1/attributes/custom", {"properties": {"a": "b"}, "user": PHONE}),
    ("POST", "/v1/webhooks", {"url": "https://example.com/h", "events": ["sms.sent"]}),
    ("GET", "/v1/product-catalog/uploads", None),
]
MESSAGE = "More than one `Authorization` header: send one"


def twice(first: str, second: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {first}"), ("Authorization", f"Bearer {second}")]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
async def test_two_bearer_tokens_are_400_whatever_their_order(
    client: httpx.AsyncClient,
    runtime: Runtime,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    mine, theirs = make_tenant(runtime).token, make_tenant(runtime).token

    for headers in (twice(mine, theirs), twice(theirs, mine), twice(mine, mine)):
        response = await client.request(method, path, json=body, headers=headers)

        assert assert_error_shape(response, 400)["message"] == MESSAGE


async def test_two_headers_on_a_delete_request_are_400_in_its_own_shape(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    key = make_tenant(runtime).token

    response = await client.post(
        "/v1/privacy/delete-request", json={"subjectEmail": "a@b.co"}, headers=twice(key, key)
    )

    assert response.status_code == 400
    assert response.json() == {"error": MESSAGE}


async def test_two_admin_tokens_are_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/companies", headers=twice(ADMIN_TOKEN, ADMIN_TOKEN))

    assert assert_error_shape(response, 400)["message"] == MESSAGE


async def test_two_headers_on_the_token_exchange_are_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/authorization-codes/tokens",
        content=b"grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Fa.example",
        headers=[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", "Basic YTpi"),
            ("Authorization", "Basic Yzpk"),
        ],
    )

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": MESSAGE}
