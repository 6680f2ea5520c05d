from __future__ import annotations

import base64
from datetime import timedelta

import httpx

from heedful.core.clock import FrozenClock
from heedful.oauth import service
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from tests.factories import make_tenant


async def test_me_answers_in_the_spec_shape(
    client: httpx.AsyncClient, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/me", headers=dev_headers)

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "applicationName": "dev",
        "attentiveDomainName": "devcompany.attn.tv",
        "companyName": "Dev Company",
        "contactEmail": "dev@heedful.local",
        "companyId": body["companyId"],
    }
    assert base64.b64decode(body["companyId"] + "==") == f"07:Company{dev.company.id}".encode()


async def test_me_needs_no_scope(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = make_tenant(runtime, scopes=[])

    response = await client.get("/v1/me", headers=tenant.headers)

    assert response.status_code == 200
    assert response.json()["applicationName"].startswith("app-")


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me")

    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("Unauthorized")


async def test_garbage_and_non_bearer_tokens_are_401(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    key = dev_headers["Authorization"].removeprefix("Bearer ")
    for header in ("Bearer nonsense", f"Basic {key}", "Bearer", key):
        response = await client.get("/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert set(response.json()["error"]) == {"id", "message"}


async def test_every_401_carries_a_bearer_challenge(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    # RFC 9110 §11.6.1 (a 401 MUST carry WWW-Authenticate) and RFC 6750 §3 (the Bearer scheme):
    # on the Starlette routes, on the ingestion lane and on the admin API alike.
    key = dev_headers["Authorization"].removeprefix("Bearer ")
    calls = [
        ("GET", "/v1/me", None),
        ("GET", "/v1/me", "Bearer nonsense"),
        ("GET", "/v1/me", f"Basic {key}"),
        ("GET", "/v1/webhooks", "Bearer nonsense"),
        ("POST", "/v1/events/custom", None),
        ("POST", "/v1/attributes/custom", "Bearer nonsense"),
        ("GET", "/admin/users?phone=%2B13115552368", "Bearer nonsense"),
    ]
    for method, path, header in calls:
        headers = {"Authorization": header} if header else {}
        response = await client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (path, header)
        assert response.headers.get("www-authenticate", "").startswith("Bearer"), (path, header)


async def test_revoked_token_is_401(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    key = dev_headers["Authorization"].removeprefix("Bearer ")
    assert (await client.get("/v1/me", headers=dev_headers)).status_code == 200
    with runtime.db.transaction() as session:
        service.revoke_token(session, runtime.clock, key)

    assert (await client.get("/v1/me", headers=dev_headers)).status_code == 401


async def test_expired_token_is_401(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, dev: DevelopmentSetup
) -> None:
    with runtime.db.transaction() as session:
        token = service.issue_api_key(
            session, clock, dev.application, expires_at=clock.now() + timedelta(minutes=5)
        )
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/me", headers=headers)).status_code == 200

    clock.advance(timedelta(minutes=5))

    assert (await client.get("/v1/me", headers=headers)).status_code == 401


async def test_each_company_sees_only_itself(client: httpx.AsyncClient, runtime: Runtime) -> None:
    first, second = make_tenant(runtime, name="First"), make_tenant(runtime, name="Second")

    assert (await client.get("/v1/me", headers=first.headers)).json()["companyName"] == "First"
    assert (await client.get("/v1/me", headers=second.headers)).json()["companyName"] == "Second"
