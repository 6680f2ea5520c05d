"""The four management operations over HTTP: shapes, validation (400) and ownership (404)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from heedful.app import create_app
from heedful.core import ids
from heedful.core.clock import FrozenClock
from heedful.errors import NotFound
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime, build_job_registry
from heedful.webhooks import service
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape

HOOK = {"url": "https://example.com/webhooks", "events": ["sms.subscribed", "sms.sent"]}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", json={**HOOK, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_create_answers_201_in_the_spec_shape(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    made = await create(client, dev_headers)

    assert set(made) == {"id", "url", "events", "type"}
    assert made["url"] == HOOK["url"] and made["events"] == HOOK["events"]
    assert made["type"] == "INSTALLED"
    assert ids.WEBHOOK.decode(made["id"]) is not None
    assert "signingKey" not in made


async def test_list_shows_the_companys_webhooks_with_company_id(
    client: httpx.AsyncClient, dev_headers: dict[str, str], dev: DevelopmentSetup
) -> None:
    first = await create(client, dev_headers)
    second = await create(
        client, dev_headers, url="http://localhost:9000/in", events=["email.opened"]
    )

    response = await client.get("/v1/webhooks", headers=dev_headers)

    assert response.status_code == 200
    company_id = ids.COMPANY.encode(dev.company.id)
    assert response.json() == {
        "webhooks": [
            {
                "id": first["id"],
                "url": HOOK["url"],
                "type": "SUBSCRIPTION",
                "events": HOOK["events"],
                "companyId": company_id,
            },
            {
                "id": second["id"],
                "url": "http://localhost:9000/in",
                "type": "SUBSCRIPTION",
                "events": ["email.opened"],
                "companyId": company_id,
            },
        ]
    }


async def test_update_changes_fields_and_disables_and_reenables(
    client: httpx.AsyncClient, dev_headers: dict[str, str], clock: FrozenClock
) -> None:
    made = await create(client, dev_headers)
    path = f"/v1/webhooks/{made['id']}"

    changed = await client.put(path, json={"events": ["custom_attribute.set"]}, headers=dev_headers)
    assert changed.status_code == 200
    assert changed.json() == {**made, "events": ["custom_attribute.set"]}

    disabled = await client.put(path, json={"disabled": True}, headers=dev_headers)
    assert disabled.json()["disabledAt"] == clock.now().strftime("%Y-%m-%d %H:%M:%S")
    listed = (await client.get("/v1/webhooks", headers=dev_headers)).json()["webhooks"]
    assert listed[0]["disabledAt"] == disabled.json()["disabledAt"]

    enabled = await client.put(
        path, json={"disabled": False, "url": "https://other.example/h"}, headers=dev_headers
    )
    assert "disabledAt" not in enabled.json()
    assert enabled.json()["url"] == "https://other.example/h"


async def test_delete_answers_204_and_the_webhook_is_gone(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    made = await create(client, dev_headers)

    response = await client.delete(f"/v1/webhooks/{made['id']}", headers=dev_headers)

    assert response.status_code == 204 and response.content == b""
    assert (await client.get("/v1/webhooks", headers=dev_headers)).json() == {"webhooks": []}
    again = await client.delete(f"/v1/webhooks/{made['id']}", headers=dev_headers)
    assert_error_shape(again, 404)
    update = await client.put(f"/v1/webhooks/{made['id']}", json={}, headers=dev_headers)
    assert_error_shape(update, 404)


async def test_a_deleted_webhooks_id_is_never_given_to_another(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    # A client retrying the DELETE of its old webhook (its first answer lost) must not delete
    # the one it made since; SQLite reuses the highest rowid unless told not to.
    old = await create(client, dev_headers)
    assert (
        await client.delete(f"/v1/webhooks/{old['id']}", headers=dev_headers)
    ).status_code == 204

    new = await create(client, dev_headers)

    assert new["id"] != old["id"]
    retried = await client.delete(f"/v1/webhooks/{old['id']}", headers=dev_headers)
    assert_error_shape(retried, 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["sms.sent"]}, "url"),
        ({"url": "https://example.com/h"}, "events"),
        ({"url": "https://example.com/h", "events": []}, "events"),
        ({"url": "https://example.com/h", "events": ["sms.bounced"]}, "events[0]"),
        ({"url": "https://example.com/h", "events": ["sms.sent", "SMS.SENT"]}, "events[1]"),
        ({"url": "https://example.com/h", "events": ["phone.subscribed"]}, "events[0]"),
        ({"url": "https://example.com/h", "events": "sms.sent"}, "events"),
        ({"url": "https://example.com/h", "events": [1]}, "events[0]"),
        ({"url": "/relative/path", "events": ["sms.sent"]}, "url"),
        ({"url": "example.com/h", "events": ["sms.sent"]}, "url"),
        ({"url": "ftp://example.com/h", "events": ["sms.sent"]}, "url"),
        ({"url": "https://", "events": ["sms.sent"]}, "url"),
        ({"url": "https://exa mple.com/", "events": ["sms.sent"]}, "url"),
        ({"url": "https://example.com:99999/", "events": ["sms.sent"]}, "url"),
        ({"url": "https://example.com:0/", "events": ["sms.sent"]}, "url"),
        # The HTTP client refuses a backslash before the host: every delivery failed.
        ({"url": "https://a\\b@example.com/h", "events": ["sms.sent"]}, "url"),
        ({"url": "https://example.com\\@example.org/h", "events": ["sms.sent"]}, "url"),
        ({"url": "", "events": ["sms.sent"]}, "url"),
        ({"url": 7, "events": ["sms.sent"]}, "url"),
        ({"url": "https://example.com/" + "a" * 2100, "events": ["sms.sent"]}, "url"),
    ],
)
async def test_invalid_bodies_are_400_naming_the_field(
    client: httpx.AsyncClient, dev_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/webhooks", json=body, headers=dev_headers)

    error = assert_error_shape(response, 400)
    assert f"`{field}`" in str(error["message"])


async def test_update_validates_what_it_is_given(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    made = await create(client, dev_headers)
    path = f"/v1/webhooks/{made['id']}"
    for body, field in (
        ({"events": []}, "events"),
        ({"events": ["nope"]}, "events[0]"),
        ({"url": "mailto:a@b.c"}, "url"),
        ({"disabled": "yes"}, "disabled"),
    ):
        error = assert_error_shape(await client.put(path, json=body, headers=dev_headers), 400)
        assert f"`{field}`" in str(error["message"])
    for raw in (b"", b"{", b"[]"):
        await_response = await client.put(path, content=raw, headers=dev_headers)
        assert_error_shape(await_response, 400)


@pytest.mark.parametrize("field", ["url", "events", "disabled"])
async def test_update_refuses_null_like_create_does(
    client: httpx.AsyncClient, dev_headers: dict[str, str], field: str
) -> None:
    # The spec's types are not nullable: a field to leave alone is omitted, not null.
    made = await create(client, dev_headers)
    path = f"/v1/webhooks/{made['id']}"

    response = await client.put(path, json={field: None}, headers=dev_headers)

    error = assert_error_shape(response, 400)
    assert f"(field `{field}`)" in str(error["message"])
    assert "null" in str(error["message"])


@pytest.fixture
async def production_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    settings = runtime.settings.model_copy(update={"env": "production"})
    production = Runtime(settings, runtime.db, runtime.clock, build_job_registry())
    transport = httpx.ASGITransport(app=create_app(settings, production))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_production_requires_https(
    production_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    plain = {"url": "http://example.com/h", "events": ["sms.sent"]}

    error = assert_error_shape(
        await production_client.post("/v1/webhooks", json=plain, headers=tenant.headers), 400
    )
    assert "https" in str(error["message"])
    secure = {**plain, "url": "https://example.com/h"}
    ok = await production_client.post("/v1/webhooks", json=secure, headers=tenant.headers)
    assert ok.status_code == 201
    put = await production_client.put(
        f"/v1/webhooks/{ok.json()['id']}", json=plain, headers=tenant.headers
    )
    assert_error_shape(put, 400)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[fe80::1%25eth0]", "link-local"),
        ("10.1.2.3", "private"),
        ("0.0.0.0", "private"),
        ("[fec0::1]", "site-local"),  # deprecated, but routed inside some networks
        ("[2002:a9fe:a9fe::]", "link-local"),  # 6to4: 169.254.169.254 inside
        ("[2002:a00:1::]", "private"),  # 6to4: 10.0.0.1 inside
        # Legacy IPv4 spellings, which the system resolver reads as 127.0.0.1 too.
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("127.1", "loopback"),
        ("017700000001", "loopback"),
    ],
)
async def test_production_refuses_internal_addresses_given_literally(
    production_client: httpx.AsyncClient, runtime: Runtime, host: str, reason: str
) -> None:
    """Accepted (201), the webhook then failed every attempt at the SSRF guard until it was
    disabled a day later: a URL that can never be delivered to is a 400 up front."""
    tenant = make_tenant(runtime)
    hook = {"url": f"https://{host}/h", "events": ["sms.sent"]}

    error = assert_error_shape(
        await production_client.post("/v1/webhooks", json=hook, headers=tenant.headers), 400
    )
    assert "`url`" in str(error["message"]) and reason in str(error["message"])
    made = await create(production_client, tenant.headers)
    put = await production_client.put(
        f"/v1/webhooks/{made['id']}", json=hook, headers=tenant.headers
    )
    assert reason in str(assert_error_shape(put, 400)["message"])


async def test_production_takes_allow_listed_internal_addresses(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(
        update={"env": "production", "webhook_allow_hosts": ["10.0.0.0/8", "127.0.0.1"]}
    )
    production = Runtime(settings, runtime.db, runtime.clock, build_job_registry())
    transport = httpx.ASGITransport(app=create_app(settings, production))
    tenant = make_tenant(runtime)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await create(http, tenant.headers, url="https://10.1.2.3/h")
        await create(http, tenant.headers, url="https://127.0.0.1:8443/h")
        refused = await http.post(
            "/v1/webhooks", json={**HOOK, "url": "https://192.168.0.1/h"}, headers=tenant.headers
        )
        assert_error_shape(refused, 400)


@pytest.mark.parametrize(
    "webhook_id", ["MjU6Q29tcGFueUFwcGxpY2F0aW9uV2ViaG9vazk5OTk", "nope", "1", "MDc6Q29tcGFueTI"]
)
async def test_unknown_ids_are_404(
    client: httpx.AsyncClient, dev_headers: dict[str, str], webhook_id: str
) -> None:
    put = await client.put(
        f"/v1/webhooks/{webhook_id}", json={"disabled": True}, headers=dev_headers
    )
    assert_error_shape(put, 404)
    assert_error_shape(await client.delete(f"/v1/webhooks/{webhook_id}", headers=dev_headers), 404)


async def test_another_companys_webhook_is_404_and_untouched(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    a, b = make_tenant(runtime), make_tenant(runtime)
    made = await create(client, a.headers)
    path = f"/v1/webhooks/{made['id']}"

    assert_error_shape(await client.put(path, json={"disabled": True}, headers=b.headers), 404)
    assert_error_shape(await client.delete(path, headers=b.headers), 404)
    assert (await client.get("/v1/webhooks", headers=b.headers)).json() == {"webhooks": []}
    listed = (await client.get("/v1/webhooks", headers=a.headers)).json()["webhooks"]
    assert [(h["id"], "disabledAt" in h) for h in listed] == [(made["id"], False)]


async def test_a_token_without_the_scope_is_403(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime, scopes=["events:write"])

    for response in (
        await client.get("/v1/webhooks", headers=tenant.headers),
        await client.post("/v1/webhooks", json=HOOK, headers=tenant.headers),
    ):
        error = assert_error_shape(response, 403)
        assert "webhooks:write" in str(error["message"])


async def test_admin_shows_the_signing_key_and_the_delivery_log(
    client: httpx.AsyncClient, dev_headers: dict[str, str], runtime: Runtime
) -> None:
    made = await create(client, dev_headers)

    response = await client.get(f"/admin/webhooks/{made['id']}", headers=ADMIN)

    assert response.status_code == 200
    webhook = response.json()["webhook"]
    assert webhook["id"] == made["id"] and len(webhook["signingKey"]) >= 40
    assert_error_shape(await client.get(f"/admin/webhooks/{made['id']}"), 401)
    assert_error_shape(await client.get(f"/admin/webhooks/{made['id']}", headers=dev_headers), 401)
    assert_error_shape(await client.get("/admin/webhooks/nope", headers=ADMIN), 404)
    log = await client.get(f"/admin/webhooks/{made['id']}/deliveries", headers=ADMIN)
    assert log.status_code == 200 and log.json() == {"deliveries": []}
    bad = await client.get(f"/admin/webhooks/{made['id']}/deliveries?limit=0", headers=ADMIN)
    assert "`limit`" in str(assert_error_shape(bad, 400)["message"])


def test_a_delete_racing_another_delete_or_an_update_is_404(runtime: Runtime) -> None:
    """SQLite runs one writer at a time, so the second request found the webhook gone; on
    PostgreSQL both read it first: both deletes answered 204, and an update answered 200
    and could re-enable the deleted webhook."""
    company_id = make_tenant(runtime).company.id

    def race(second: Callable[[Session, str], object]) -> list[str]:
        with runtime.db.transaction() as session:
            hook = service.create_webhook(
                session, runtime.clock, company_id, HOOK["url"], HOOK["events"], development=True
            )
            public_id = ids.WEBHOOK.encode(hook.id)
        outcome: list[str] = []

        def run_second() -> None:
            try:
                with runtime.db.transaction() as session:
                    second(session, public_id)
                outcome.append("done")
            except NotFound:
                outcome.append("404")

        with runtime.db.transaction() as session:
            service.delete_webhook(session, runtime.clock, company_id, public_id)
            racer = threading.Thread(target=run_second)
            racer.start()
            racer.join(0.5)  # let it read (PostgreSQL) or wait for this transaction (SQLite)
        racer.join(10)
        return outcome

    def delete(session: Session, public_id: str) -> None:
        service.delete_webhook(session, runtime.clock, company_id, public_id)

    def enable(session: Session, public_id: str) -> None:
        service.update_webhook(
            session, runtime.clock, company_id, public_id, disabled=False, development=True
        )

    assert race(delete) == ["404"]
    assert race(enable) == ["404"]
