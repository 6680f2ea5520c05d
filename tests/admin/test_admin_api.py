from __future__ import annotations

import httpx

from heedful.app import create_app
from heedful.core import ids
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_admin_routes_do_not_exist_without_an_admin_token(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"admin_token": None})
    app = create_app(settings, Runtime(settings, runtime.db, runtime.clock, runtime.jobs))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/admin/companies", headers=ADMIN)

    assert_error_shape(response, 404)


async def test_wrong_or_missing_admin_token_is_401(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, dev_headers):
        assert_error_shape(await client.get("/admin/companies", headers=headers), 401)


async def test_lists_every_company(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup
) -> None:
    other = make_tenant(runtime, name="Other Shop")

    response = await client.get("/admin/companies", headers=ADMIN)

    assert response.status_code == 200
    companies = response.json()["companies"]
    assert [c["name"] for c in companies] == ["Dev Company", "Other Shop"]
    assert companies[1]["id"] == ids.COMPANY.encode(other.company.id)
    assert companies[0]["development"] is True


async def test_creates_a_company_with_an_admin_key(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/admin/companies",
        headers=ADMIN,
        json={"name": "Hudson & Ivy", "domain": "hudsonivy.attn.tv"},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["company"]["name"] == "Hudson & Ivy"
    assert body["company"]["attentiveDomainName"] == "hudsonivy.attn.tv"
    assert body["adminKey"].startswith("hdfadm_") and len(body["adminKey"]) > 40
    listed = (await client.get("/admin/companies", headers=ADMIN)).json()["companies"]
    assert [c["id"] for c in listed] == [body["company"]["id"]]
