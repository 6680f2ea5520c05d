"""A body with a content coding heedful does not decode is a 415, not read as if it were plain.

Ignoring `Content-Encoding` answered a gzipped JSON body with "Malformed JSON ... (byte 0)",
and took a plain body labelled gzip as if the label were not there (RFC 9110 §8.4.1: a
recipient must not process a coded representation as if it were not coded)."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from heedful.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape

PHONE = {"phone": "+13115552368"}
POSTS = [
    ("/v1/events/custom", {"type": "t", "user": PHONE}),
    ("/v1/attributes/custom", {"properties": {"a": "b"}, "user": PHONE}),
    ("/v1/webhooks", {"url": "https://example.com/h", "events": ["sms.sent"]}),
    ("/v1/privacy/delete-request", {"subjectEmail": "a@b.co"}),
    ("/admin/companies", {"name": "Shop"}),
]


@pytest.mark.parametrize(("path", "body"), POSTS)
@pytest.mark.parametrize("coding", ["gzip", "br", "gzip, identity"])
async def test_a_coded_body_is_415_naming_the_coding(
    client: httpx.AsyncClient, runtime: Runtime, path: str, body: object, coding: str
) -> None:
    tenant = make_tenant(runtime)
    auth = f"Bearer {ADMIN_TOKEN}" if path.startswith("/admin") else tenant.headers["Authorization"]
    plain = json.dumps(body).encode()

    for content in (gzip.compress(plain), plain):
        response = await client.post(
            path, content=content, headers={"Authorization": auth, "Content-Encoding": coding}
        )

        error = assert_error_shape(response, 415)
        assert error["message"] == (
            f"Content-Encoding `{coding}` is not supported: send the body uncompressed"
        )


async def test_identity_is_no_coding(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = make_tenant(runtime)

    response = await client.post(
        "/v1/events/custom",
        json={"type": "t", "user": PHONE},
        headers={**tenant.headers, "Content-Encoding": "identity"},
    )

    assert response.status_code == 200


async def test_the_token_exchange_refuses_a_coded_body(client: httpx.AsyncClient) -> None:
    form = b"grant_type=authorization_code&code=c&client_id=a&client_secret=b"

    response = await client.post(
        "/v1/authorization-codes/tokens",
        content=gzip.compress(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Encoding": "gzip",
        },
    )

    assert_error_shape(response, 415)
