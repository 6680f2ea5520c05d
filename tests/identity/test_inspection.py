"""Looking at a user: GET /admin/users, GET /admin/users/{id}/events and `heedful users show`."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from typer.testing import Result

from heedful.runtime import Runtime
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
USER = {"phone": "+13115552368", "email": "Test@Gmail.com"}


async def send_some(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for number in range(3):
        body = {"type": "Order Shipped", "properties": {"n": number}, "user": USER}
        assert (
            await client.post("/v1/events/custom", json=body, headers=headers)
        ).status_code == 200
    body = {"properties": {"VIP": True}, "user": {"email": "test@gmail.com"}}
    assert (
        await client.post("/v1/attributes/custom", json=body, headers=headers)
    ).status_code == 200


async def test_admin_finds_a_user_by_any_identifier(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    await send_some(client, dev_headers)

    by_phone = await client.get("/admin/users", params={"phone": "+13115552368"}, headers=ADMIN)
    by_email = await client.get("/admin/users", params={"email": "TEST@gmail.com"}, headers=ADMIN)

    assert by_phone.status_code == by_email.status_code == 200
    [user] = by_phone.json()["users"]
    assert by_email.json()["users"] == [user]
    assert {(i["kind"], i["value"]) for i in user["identifiers"]} == {
        ("phone", "+13115552368"),
        ("email", "test@gmail.com"),
    }
    assert user["attributes"] == {"VIP": {"type": "boolean", "value": True}}
    assert user["eventCount"] == 3
    assert [e["properties"]["n"] for e in user["latestEvents"]] == [2, 1, 0]


async def test_admin_lists_a_users_events_and_follows_merges(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    await client.post(
        "/v1/events/custom",
        json={"type": "a", "user": {"phone": "+13115552368"}},
        headers=dev_headers,
    )
    await client.post(
        "/v1/events/custom",
        json={"type": "b", "user": {"email": "x@example.com"}},
        headers=dev_headers,
    )
    [merged] = (
        await client.get("/admin/users", params={"email": "x@example.com"}, headers=ADMIN)
    ).json()["users"]
    bridge = {"phone": "+13115552368", "email": "x@example.com"}
    await client.post("/v1/identity-resolution/user-identifiers", json=bridge, headers=dev_headers)

    response = await client.get(f"/admin/users/{merged['id']}/events", headers=ADMIN)

    assert response.status_code == 200
    assert response.json()["userId"] != merged["id"]
    assert sorted(e["type"] for e in response.json()["events"]) == ["a", "b"]


async def test_admin_user_lookups_refuse_bad_queries(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.get("/admin/users", headers=ADMIN), 400)
    assert_error_shape(
        await client.get("/admin/users", params={"phone": "123"}, headers=ADMIN), 400
    )
    assert_error_shape(await client.get("/admin/users/99999/events", headers=ADMIN), 404)
    assert_error_shape(await client.get("/admin/users/abc/events", headers=ADMIN), 404)
    assert_error_shape(await client.get("/admin/users", params={"phone": "+13115552368"}), 401)


async def test_admin_user_lookups_refuse_non_ascii_digits(client: httpx.AsyncClient) -> None:
    # "²" passes str.isdigit(), but int() refuses it.
    phone = {"phone": "+13115552368"}
    assert_error_shape(await client.get("/admin/users/²/events", headers=ADMIN), 404)
    assert_error_shape(
        await client.get("/admin/users/1/events", params={"limit": "²"}, headers=ADMIN), 400
    )
    response = await client.get("/admin/users", params={**phone, "events": "²"}, headers=ADMIN)
    assert_error_shape(response, 400)
    response = await client.get("/admin/users", params={**phone, "company": "²"}, headers=ADMIN)
    assert assert_error_shape(response, 404)["message"] == "No company '²'"


async def test_admin_lookup_can_be_narrowed_to_a_company(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    other = make_tenant(runtime)
    for headers in (dev_headers, other.headers):
        await client.post("/v1/events/custom", json={"type": "t", "user": USER}, headers=headers)

    everywhere = await client.get("/admin/users", params={"phone": USER["phone"]}, headers=ADMIN)
    narrowed = await client.get(
        "/admin/users",
        params={"phone": USER["phone"], "company": str(other.company.id)},
        headers=ADMIN,
    )

    by_name = await client.get(
        "/admin/users",
        params={"phone": USER["phone"], "company": other.company.name},
        headers=ADMIN,
    )
    unknown = await client.get(
        "/admin/users", params={"phone": USER["phone"], "company": "x" * 5000}, headers=ADMIN
    )

    assert len(everywhere.json()["users"]) == 2
    [user] = narrowed.json()["users"]
    assert user["eventCount"] == 1
    assert by_name.json() == narrowed.json()
    assert assert_error_shape(unknown, 404)["message"] == f"No company '{'x' * 80}…'"


async def test_cli_users_show_prints_identifiers_attributes_and_events(
    client: httpx.AsyncClient, dev_headers: dict[str, str], heedful_cli: Callable[[str], Result]
) -> None:
    await send_some(client, dev_headers)

    shown = heedful_cli("users show --phone +13115552368")
    as_json = heedful_cli("users show --email TEST@GMAIL.COM --json --events 1")

    assert shown.exit_code == 0, shown.output
    assert "+13115552368" in shown.stdout and "test@gmail.com" in shown.stdout
    assert "Order Shipped" in shown.stdout and "VIP" in shown.stdout
    assert "Latest events (3 of 3)" in shown.stdout
    [user] = json.loads(as_json.stdout)
    assert len(user["latestEvents"]) == 1


async def test_cli_users_show_prints_unicode_attribute_values_as_sent(
    client: httpx.AsyncClient, dev_headers: dict[str, str], heedful_cli: Callable[[str], Result]
) -> None:
    body = {"properties": {"city": "Zürich 東京"}, "user": {"phone": USER["phone"]}}
    assert (
        await client.post("/v1/attributes/custom", json=body, headers=dev_headers)
    ).status_code == 200

    shown = heedful_cli("users show --phone +13115552368")

    assert shown.exit_code == 0, shown.output
    assert '"Zürich 東京"' in shown.stdout


def test_cli_users_show_fails_cleanly(heedful_cli: Callable[[str], Result]) -> None:
    missing = heedful_cli("users show --phone +13115552368")
    invalid = heedful_cli("users show --phone 555")

    assert missing.exit_code == 1 and "No such user" in missing.stdout
    assert invalid.exit_code == 1 and "E.164" in invalid.output
    assert "Traceback" not in invalid.output


def test_cli_users_show_exits_1_for_an_unknown_user_with_json_too(
    heedful_cli: Callable[[str], Result],
) -> None:
    # It printed [] and exited 0, so `users show --json || ...` took a miss for a find.
    as_json = heedful_cli("users show --phone +13115552368 --json")

    assert as_json.exit_code == 1, as_json.output
    assert json.loads(as_json.stdout) == []
