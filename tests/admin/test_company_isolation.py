"""One company's token against another's data, through every /v1 operation and every admin
lookup narrowed to a company: 404 (or the caller's own, separate data), and the other
company's rows are exactly as they were."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from heedful.config import Settings
from heedful.core import ids
from heedful.runtime import Runtime
from heedful.storage.models import Base
from heedful.storage.models.identity import UserMerge
from tests.catalog.support import ndjson, product
from tests.conftest import ADMIN_TOKEN
from tests.factories import Tenant, make_tenant
from tests.subscriptions.support import make_source

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PHONE = "+13115552368"
EMAIL = "theirs@example.com"
CLIENT_USER_ID = "their-customer-7"
EXTERNAL_EVENT_ID = "their-order-1"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"catalog_upload_dir": str(tmp_path / "uploads"), "rate_limits": "off"}
    )


def company_rows(runtime: Runtime, company_id: int) -> dict[str, list[str]]:
    """Every row of every table that belongs to the company, as text."""
    found: dict[str, list[str]] = {}
    with runtime.db.read() as session:
        for table in Base.metadata.sorted_tables:
            if "company_id" in table.c:
                stmt = select(table).where(table.c.company_id == company_id)
            elif table.name == "companies":
                stmt = select(table).where(table.c.id == company_id)
            else:
                continue
            rows = [json.dumps(dict(r._mapping), default=str) for r in session.execute(stmt)]
            found[table.name] = sorted(rows)
    return found


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def populate(client: httpx.AsyncClient, runtime: Runtime, b: Tenant) -> dict[str, str]:
    """Company B's data in every area; the ids A will try."""
    h = b.headers
    user = {"phone": PHONE, "email": EMAIL, "externalIdentifiers": {"clientUserId": CLIENT_USER_ID}}
    hook = await ok(
        await client.post(
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/b", "events": ["custom_attribute.set"]},
            headers=h,
        ),
        201,
    )
    await ok(
        await client.post("/v1/identity-resolution/user-identifiers", json=user, headers=h), 202
    )
    await ok(
        await client.post(
            "/v1/events/custom",
            json={"type": "Shipped", "externalEventId": EXTERNAL_EVENT_ID, "user": user},
            headers=h,
        )
    )
    await ok(
        await client.post(
            "/v1/attributes/custom", json={"properties": {"tier": "gold"}, "user": user}, headers=h
        )
    )
    source = make_source(runtime, b.company.id, opt_in="single")
    await ok(
        await client.post(
            "/v1/subscriptions",
            json={"user": {"phone": PHONE}, "signUpSourceId": source},
            headers=h,
        ),
        202,
    )
    upload = await ok(await client.post("/v1/product-catalog/uploads", json={}, headers=h))
    put = await client.put(httpx.URL(upload["uploadUrl"]).path, content=ndjson([product(1)]))
    assert put.status_code == 200, put.text
    privacy = await ok(
        await client.post(
            "/v1/privacy/delete-request", json={"subjectPhone": "+13115550100"}, headers=h
        )
    )
    runtime.worker().run_until_idle()
    return {
        "webhook": hook["id"],
        "upload": upload["uploadId"],
        "privacy": privacy["id"],
        "source": source,
    }


def spellings(public_id: str) -> list[str]:
    """The id as given and in the other forms a decoder might accept."""
    return [public_id, public_id + "=", public_id + "==", quote(public_id + "=", safe="")]


async def test_a_token_of_one_company_never_reads_or_changes_another_companys_data(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a, b = make_tenant(runtime), make_tenant(runtime)
    theirs = await populate(client, runtime, b)
    before = company_rows(runtime, b.company.id)
    assert all(before[name] for name in ("webhooks", "events", "user_identifiers", "messages"))
    assert all(before[name] for name in ("catalog_products", "privacy_requests", "subscriptions"))
    h = a.headers

    for hook_id in spellings(theirs["webhook"]):
        body = {"url": "http://127.0.0.1:9/a", "events": ["custom_attribute.set"]}
        assert (
            await client.put(f"/v1/webhooks/{hook_id}", json=body, headers=h)
        ).status_code == 404
        assert (await client.delete(f"/v1/webhooks/{hook_id}", headers=h)).status_code == 404
    assert (await ok(await client.get("/v1/webhooks", headers=h)))["webhooks"] == []
    for upload_id in [theirs["upload"], theirs["upload"].upper(), f" {theirs['upload']}"]:
        path = f"/v1/product-catalog/uploads/{quote(upload_id)}"
        assert (await client.get(path, headers=h)).status_code == 404
    assert await ok(await client.get("/v1/product-catalog/uploads", headers=h)) == []
    for request_id in [theirs["privacy"], theirs["privacy"].upper()]:
        path = f"/v1/privacy/delete-request/{request_id}"
        assert (await client.get(path, headers=h)).status_code == 404
    for query in ({"phone": PHONE}, {"email": EMAIL}, {"email": EMAIL.upper()}):
        assert (await client.get("/v1/subscriptions", params=query, headers=h)).status_code == 404
    unsubscribe = {"user": {"phone": PHONE}}
    assert (
        await client.post("/v1/subscriptions/unsubscribe", json=unsubscribe, headers=h)
    ).status_code == 404
    borrowed = {"user": {"phone": PHONE}, "signUpSourceId": theirs["source"]}
    assert (await client.post("/v1/subscriptions", json=borrowed, headers=h)).status_code == 400
    me = await ok(await client.get("/v1/me", headers=h))
    assert me["companyId"] == ids.COMPANY.encode(a.company.id)

    # A's own writes naming B's subscriber make A's own user, and an erasure in A stays in A.
    user = {"phone": PHONE, "email": EMAIL, "externalIdentifiers": {"clientUserId": CLIENT_USER_ID}}
    identify = "/v1/identity-resolution/user-identifiers"
    # Two users in A (one per identifier B's user has), then bridged: a merge in A.
    await ok(await client.post(identify, json={"email": EMAIL}, headers=h), 202)
    await ok(await client.post(identify, json={"phone": PHONE}, headers=h), 202)
    await ok(await client.post(identify, json=user, headers=h), 202)
    with runtime.db.read() as session:
        merges = session.scalars(select(UserMerge.company_id)).all()
    assert merges == [a.company.id]
    custom = {"type": "Shipped", "externalEventId": EXTERNAL_EVENT_ID, "user": user}
    await ok(await client.post("/v1/events/custom", json=custom, headers=h))
    attribute = {"properties": {"tier": "bronze"}, "user": user}
    await ok(await client.post("/v1/attributes/custom", json=attribute, headers=h))
    await ok(await client.post("/v1/product-catalog/uploads", json={}, headers=h))
    erase = {"subjectPhone": PHONE, "subjectEmail": EMAIL}
    await ok(await client.post("/v1/privacy/delete-request", json=erase, headers=h))
    runtime.worker().run_until_idle()

    # Admin lookups narrowed to A.
    a_id = ids.COMPANY.encode(a.company.id)
    product_path = "/admin/catalog/products/PD-1"
    assert (
        await client.get(product_path, params={"company": a_id}, headers=ADMIN)
    ).status_code == 404
    listed = await ok(
        await client.get("/admin/catalog/products", params={"company": a_id}, headers=ADMIN)
    )
    assert listed["products"] == []
    users = await ok(
        await client.get("/admin/users", params={"phone": PHONE, "company": a_id}, headers=ADMIN)
    )
    assert {u.get("companyId", a_id) for u in users["users"]} <= {a_id}
    requests = await ok(
        await client.get("/admin/privacy/requests", params={"company": a_id}, headers=ADMIN)
    )
    assert theirs["privacy"] not in {r["id"] for r in requests["requests"]}
    messages = await ok(
        await client.get("/admin/messages", params={"phone": PHONE, "company": a_id}, headers=ADMIN)
    )
    assert messages["messages"] == []

    assert company_rows(runtime, b.company.id) == before
