"""POST /v1/attributes/custom: typed upserts, 400 rules, merges and `custom_attribute.set`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from heedful.attributes import service as attributes
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.oauth import repository as oauth_repository
from heedful.runtime import Runtime
from heedful.storage.models.attributes import UserAttribute
from heedful.storage.models.webhooks import WebhookDelivery
from heedful.webhooks import service as webhooks
from tests.http.test_errors import assert_error_shape

PATH = "/v1/attributes/custom"
USER = {"phone": "+13115552368", "email": "test@gmail.com"}
EXAMPLE = {
    "age": "24",
    "birthday": "1986-11-16",
    "favorite team": "Minnesota Vikings",
    "Gift card balance": "50.89",
    "VIP": "TRUE",
}


def dev_company(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        company = oauth_repository.development_company(session)
        assert company is not None
        return company.id


def profile(runtime: Runtime, phone: str = USER["phone"]) -> dict[str, tuple[str, Any]]:
    company_id = dev_company(runtime)
    with runtime.db.transaction() as session:
        user_id = identity.find_user(session, company_id, ident.phone(phone, "phone"))
        assert user_id is not None
        rows = attributes.attributes_of(session, company_id, user_id)
    return {name: (kind, value) for name, kind, value in rows}


def subscribe_webhook(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        webhooks.create_webhook(
            session,
            runtime.clock,
            dev_company(runtime),
            "http://127.0.0.1:9/hook",
            ["custom_attribute.set"],
            development=True,
        )


def deliveries(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.transaction() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        return [json.loads(row.body) for row in rows]


async def test_attributes_are_upserted_with_types_fixed_by_the_first_value(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    response = await client.post(
        PATH, json={"properties": EXAMPLE, "user": USER}, headers=dev_headers
    )

    assert response.status_code == 200
    assert response.json() == {}
    assert profile(runtime) == {
        "age": ("number", "24"),
        "birthday": ("string", "1986-11-16"),
        "favorite team": ("string", "Minnesota Vikings"),
        "Gift card balance": ("number", "50.89"),
        "VIP": ("boolean", "TRUE"),
    }

    update = {"age": 25, "favorite team": "Packers", "VIP": False}
    assert (
        await client.post(PATH, json={"properties": update, "user": USER}, headers=dev_headers)
    ).status_code == 200

    after = profile(runtime)
    assert after["age"] == ("number", 25)
    assert after["favorite team"] == ("string", "Packers")
    assert after["VIP"] == ("boolean", False)


async def test_names_and_values_are_case_sensitive_and_unicode_round_trips(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    props = {"Favorite color": "Blue", "Favorite Color": "blue", "שם 👋🏽": "e\u0301 مرحبا"}

    assert (
        await client.post(PATH, json={"properties": props, "user": USER}, headers=dev_headers)
    ).status_code == 200

    assert {name: value for name, (_, value) in profile(runtime).items()} == props


BAD: list[tuple[dict[str, Any], str]] = [
    (
        {"properties": {"cities": ["chicago", "new york"]}, "user": USER},
        "`properties.cities` must not be an array",
    ),
    (
        {"properties": {"address": {"city": "x"}}, "user": USER},
        "`properties.address` must not be a nested object",
    ),
    ({"properties": {"a": None}, "user": USER}, "`properties.a` must not be null"),
    ({"properties": {"n" * 201: "x"}, "user": USER}, "at most 200 characters"),
    ({"properties": {"": "x"}, "user": USER}, "empty attribute name"),
    ({"properties": {"a\x00": "x"}, "user": USER}, "`properties` must not contain NUL"),
    ({"user": USER}, "`properties`"),
    ({"properties": {"a": 1}}, "`user`"),
    (
        {"properties": {"a": 1}, "user": {"externalIdentifiers": {"clientUserId": "x"}}},
        "`user.phone` or `user.email` is required",
    ),
    ({"properties": [], "user": USER}, "(field `properties`)"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
async def test_bad_attribute_calls_are_400(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev_headers: dict[str, str],
    body: dict[str, Any],
    message: str,
) -> None:
    error = assert_error_shape(await client.post(PATH, json=body, headers=dev_headers), 400)

    assert message in error["message"]  # type: ignore[operator]
    with runtime.db.transaction() as session:
        assert session.scalars(select(UserAttribute)).all() == []


async def test_a_value_of_another_type_is_400_and_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    first = {"age": "24", "VIP": True}
    assert (
        await client.post(PATH, json={"properties": first, "user": USER}, headers=dev_headers)
    ).status_code == 200

    for bad in ({"age": "twenty", "new": "x"}, {"VIP": "maybe"}, {"age": True}):
        response = await client.post(
            PATH, json={"properties": bad, "user": USER}, headers=dev_headers
        )
        error = assert_error_shape(response, 400)
        assert "must be a" in error["message"]  # type: ignore[operator]

    assert profile(runtime) == {"age": ("number", "24"), "VIP": ("boolean", True)}


async def test_each_changed_attribute_emits_custom_attribute_set(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    subscribe_webhook(runtime)
    body = {"properties": {"color": "blue", "size": 10}, "user": USER}

    await client.post(PATH, json=body, headers=dev_headers)
    await client.post(
        PATH, json={"properties": {"color": "blue", "size": 11}, "user": USER}, headers=dev_headers
    )

    sent = deliveries(runtime)
    assert [(d["type"], d["user_property"]["name"], d["user_property"]["value"]) for d in sent] == [
        ("custom_attribute.set", "color", "blue"),
        ("custom_attribute.set", "size", 10),
        ("custom_attribute.set", "size", 11),
    ]
    assert sent[0]["subscriber"]["phone"] == USER["phone"]
    assert sent[0]["subscriber"]["email"] == USER["email"]
    assert isinstance(sent[0]["subscriber"]["external_id"], int)


async def test_merge_keeps_the_latest_value_of_an_attribute_both_users_hold(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    phone_user = {"phone": "+13115552368"}
    email_user = {"email": "x@example.com"}
    await client.post(
        PATH, json={"properties": {"color": "red", "a": 1}, "user": phone_user}, headers=dev_headers
    )
    runtime.clock.advance(5)  # type: ignore[attr-defined]
    await client.post(
        PATH,
        json={"properties": {"color": "green", "b": 2}, "user": email_user},
        headers=dev_headers,
    )

    both = {"phone": "+13115552368", "email": "x@example.com"}
    assert (
        await client.post(PATH, json={"properties": {"c": 3}, "user": both}, headers=dev_headers)
    ).status_code == 200

    assert {name: value for name, (_, value) in profile(runtime).items()} == {
        "color": "green",
        "a": 1,
        "b": 2,
        "c": 3,
    }


async def test_the_subscriber_lists_every_client_user_id_of_a_merged_user(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    """`external_identifiers.client_user_id` is a list (reference §3.3): a user who holds two
    client user ids (two users merged by an identify call) is sent with both, not the first."""
    subscribe_webhook(runtime)
    identify = "/v1/identity-resolution/user-identifiers"
    for body in (
        {"phone": USER["phone"], "clientUserId": "cu-1"},
        {"email": USER["email"], "clientUserId": "cu-2"},
        {"phone": USER["phone"], "email": USER["email"]},  # bridges the two: one user
    ):
        assert (await client.post(identify, json=body, headers=dev_headers)).status_code == 202

    await client.post(
        PATH, json={"properties": {"tier": "gold"}, "user": USER}, headers=dev_headers
    )

    (sent,) = deliveries(runtime)
    assert sent["subscriber"]["external_identifiers"]["client_user_id"] == ["cu-1", "cu-2"]


async def test_a_merge_keeps_the_survivors_value_of_a_custom_identifier_in_the_subscriber(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    """Two users with one custom identifier name and different values merge: the payload's
    `custom_identifiers` (an object, one value a name) keeps the survivor's value, as `phone`
    and `email` keep the survivor's; the merge does not swap it for the merged user's."""
    subscribe_webhook(runtime)
    identify = "/v1/identity-resolution/user-identifiers"
    for body in (
        {"phone": USER["phone"], "customIdentifiers": [{"name": "loyaltyId", "value": "L-1"}]},
        {"email": USER["email"], "customIdentifiers": [{"name": "loyaltyId", "value": "L-2"}]},
        {"phone": USER["phone"], "email": USER["email"]},  # bridges the two: one user
    ):
        assert (await client.post(identify, json=body, headers=dev_headers)).status_code == 202

    await client.post(
        PATH, json={"properties": {"tier": "gold"}, "user": USER}, headers=dev_headers
    )

    (sent,) = deliveries(runtime)
    assert sent["subscriber"]["phone"] == USER["phone"]
    assert sent["subscriber"]["external_identifiers"]["custom_identifiers"] == {"loyaltyId": "L-1"}
