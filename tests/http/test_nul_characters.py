"""NUL characters (U+0000) are refused at the edge: PostgreSQL's text types cannot hold them
(SQLite's can), so one that reached the database was a 500 on PostgreSQL only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from heedful.core import ids
from heedful.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PHONE = {"phone": "+13115552368"}
NUL = "a\u0000b"

BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/events/custom", {"type": NUL, "user": PHONE}, "type"),
    ("/v1/events/custom", {"type": "t", "user": PHONE, "externalEventId": NUL}, "externalEventId"),
    (
        "/v1/events/custom",
        {"type": "t", "user": {**PHONE, "externalIdentifiers": {"clientUserId": NUL}}},
        "user.externalIdentifiers.clientUserId",
    ),
    ("/v1/attributes/custom", {"properties": {NUL: "x"}, "user": PHONE}, "properties"),
    ("/v1/identity-resolution/user-identifiers", {**PHONE, "shopifyId": NUL}, "shopifyId"),
    (
        "/v1/identity-resolution/user-identifiers",
        {**PHONE, "customIdentifiers": [{"name": "n", "value": NUL}]},
        "customIdentifiers[0].value",
    ),
]
ADMIN_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("/admin/companies", {"name": NUL}, "name"),
    ("/admin/sms/inbound", {"from": "+13115552368", "text": NUL}, "text"),
    ("/admin/sms/inbound", {"from": "+13115552368", "text": "STOP", "company": NUL}, "company"),
]


@pytest.mark.parametrize(("path", "body", "field"), BODIES)
async def test_nul_in_an_api_body_is_400_naming_the_field(
    client: httpx.AsyncClient, runtime: Runtime, path: str, body: dict[str, Any], field: str
) -> None:
    tenant = make_tenant(runtime)

    response = await client.post(path, json=body, headers=tenant.headers)

    error = assert_error_shape(response, 400)
    assert f"`{field}`" in str(error["message"])
    assert "NUL" in str(error["message"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subjectEmail": "a@b.co", "requestMsg": NUL}, "requestMsg"),
        ({"clientUserId": NUL}, "clientUserId"),
    ],
)
async def test_nul_in_a_delete_request_is_400_in_its_own_shape(
    client: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any], field: str
) -> None:
    tenant = make_tenant(runtime)

    response = await client.post("/v1/privacy/delete-request", json=body, headers=tenant.headers)

    assert response.status_code == 400
    assert response.json() == {"error": f"`{field}` must not contain NUL characters (\\u0000)"}


async def test_nul_in_a_delete_request_query_parameter_is_400_in_its_own_shape(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # The query is checked before the handler runs: this 400 had the generic shape, not the
    # vendor's `PrivacyRequestErrorDto` every other 400 of the operation has.
    tenant = make_tenant(runtime)

    response = await client.post(
        "/v1/privacy/delete-request",
        params={"note": NUL},
        json={"subjectEmail": "a@b.co"},
        headers=tenant.headers,
    )

    assert response.status_code == 400
    assert response.json() == {"error": "Query parameter `note` must not contain NUL characters"}
    assert "x-ratelimit-limit" in response.headers


@pytest.mark.parametrize(("path", "body", "field"), ADMIN_BODIES)
async def test_nul_in_an_admin_body_is_400_naming_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post(path, json=body, headers=ADMIN)

    error = assert_error_shape(response, 400)
    assert f"`{field}`" in str(error["message"])


async def test_nul_in_a_query_parameter_is_400_naming_it(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)

    api = await client.get(
        "/v1/subscriptions", params={"email": "a\u0000b@x.co"}, headers=tenant.headers
    )
    admin = await client.get("/admin/users", params={"clientUserId": NUL}, headers=ADMIN)

    assert "`email`" in str(assert_error_shape(api, 400)["message"])
    assert "`clientUserId`" in str(assert_error_shape(admin, 400)["message"])


async def test_nul_in_a_path_parameter_is_404(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = make_tenant(runtime)
    company = ids.COMPANY.encode(tenant.company.id)

    upload = await client.get("/v1/product-catalog/uploads/a%00b", headers=tenant.headers)
    product = await client.get(
        "/admin/catalog/products/a%00b", params={"company": company}, headers=ADMIN
    )

    assert_error_shape(upload, 404)
    assert_error_shape(product, 404)


async def test_nul_in_the_token_exchange_form_is_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/authorization-codes/tokens",
        data={
            "grant_type": "authorization_code",
            "code": "c",
            "client_id": NUL,
            "client_secret": "s",
            "redirect_uri": "https://example.com/",
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_a_json_escaped_backslash_before_u0000_is_not_a_nul(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    body = {"type": "t", "user": PHONE, "properties": {"k": "\\u0000"}}

    response = await client.post("/v1/events/custom", json=body, headers=tenant.headers)

    assert response.status_code == 200
