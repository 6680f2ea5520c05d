"""Eligibility lookups, input validation, sign-up sources, company isolation, merges."""

from __future__ import annotations

import httpx
import pytest

from heedful.core.clock import FrozenClock
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape
from tests.subscriptions.support import (
    EMAIL,
    PHONE,
    consent,
    dev_source,
    make_source,
    subscribe,
    subscriptions,
)


async def test_both_parameters_list_both_channels(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    await subscribe(client, dev_headers, dev_source(runtime, dev), phone=PHONE, email=EMAIL)

    response = await client.get(
        "/v1/subscriptions", params={"phone": PHONE, "email": EMAIL}, headers=dev_headers
    )

    assert response.json() == {
        "subscriptionEligibilities": [
            {
                "subscription": {"type": "MARKETING", "channel": "TEXT"},
                "eligibility": {"isEligible": False},
            },
            {
                "subscription": {"type": "MARKETING", "channel": "EMAIL"},
                "eligibility": {"isEligible": True},
            },
        ]
    }
    only_email = await client.get("/v1/subscriptions", params={"email": EMAIL}, headers=dev_headers)
    assert [
        e["subscription"]["channel"] for e in only_email.json()["subscriptionEligibilities"]
    ] == ["EMAIL"]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({}, 400, "phone"),
        ({"phone": "13115552368"}, 400, "phone"),
        ({"phone": "+1---914---844---0001"}, 400, "phone"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"phone": "+13115550000"}, 404, None),
        ({"email": "nobody@example.com"}, 404, None),
    ],
)
async def test_eligibility_rules(
    client: httpx.AsyncClient,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    query: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    response = await client.get("/v1/subscriptions", params=query, headers=dev_headers)

    assert_error_shape(response, status)
    if field:
        assert f"`{field}`" in response.json()["error"]["message"]


async def test_a_known_visitor_without_subscriptions_has_an_empty_list(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    with runtime.db.transaction() as session:
        identity.resolve(session, runtime.clock, dev.company.id, [ident.phone(PHONE, "phone")])

    response = await client.get("/v1/subscriptions", params={"phone": PHONE}, headers=dev_headers)

    assert response.status_code == 200
    assert response.json() == {"subscriptionEligibilities": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": {"phone": PHONE}, "signUpSourceId": "nope"}, "signUpSourceId"),
        ({"user": {"phone": PHONE}}, "signUpSourceId"),
        ({"user": {}, "signUpSourceId": "x"}, "user.phone"),
        ({"user": {"phone": "19148440001"}, "signUpSourceId": "x"}, "user.phone"),
        ({"user": {"email": "x@"}, "signUpSourceId": "x"}, "user.email"),
        ({"user": {"phone": PHONE}, "signUpSourceId": 5}, "signUpSourceId"),
        ({"signUpSourceId": "x"}, "user"),
        ({"user": {"phone": PHONE}, "signUpSourceId": "x", "singleOptIn": "yes"}, "singleOptIn"),
    ],
)
async def test_subscribe_input_errors_are_400_naming_the_field(
    client: httpx.AsyncClient,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    body: dict,
    field: str,
) -> None:
    response = await client.post("/v1/subscriptions", json=body, headers=dev_headers)

    assert_error_shape(response, 400)
    assert field in response.json()["error"]["message"]


async def test_companies_are_isolated(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    other = make_tenant(runtime)
    dev_source_id = dev_source(runtime, dev)
    await subscribe(client, dev_headers, dev_source_id, phone=PHONE)

    # Another company can neither use the dev company's source nor see its subscriber.
    foreign = await subscribe(client, other.headers, dev_source_id, phone=PHONE)
    assert_error_shape(foreign, 400)
    lookup = await client.get("/v1/subscriptions", params={"phone": PHONE}, headers=other.headers)
    assert_error_shape(lookup, 404)
    gone = await client.post(
        "/v1/subscriptions/unsubscribe", json={"user": {"phone": PHONE}}, headers=other.headers
    )
    assert_error_shape(gone, 404)

    own = make_source(runtime, other.company.id, opt_in="single")
    await subscribe(client, other.headers, own, phone=PHONE)
    mine = await client.get("/v1/subscriptions", params={"phone": PHONE}, headers=dev_headers)
    assert mine.json()["subscriptionEligibilities"][0]["eligibility"]["isEligible"] is False
    assert sorted(s.company_id for s in subscriptions(runtime)) == sorted(
        [dev.company.id, other.company.id]
    )


async def test_subscriptions_need_the_scope(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup
) -> None:
    reader = make_tenant(runtime, scopes=["subscriptions:read"])
    nothing = make_tenant(runtime, scopes=["events:write"])

    read = await client.get("/v1/subscriptions", params={"phone": PHONE}, headers=reader.headers)
    write = await client.post("/v1/subscriptions", json={}, headers=reader.headers)
    neither = await client.get(
        "/v1/subscriptions", params={"phone": PHONE}, headers=nothing.headers
    )

    assert_error_shape(read, 404)  # the read scope suffices to look; nobody is there
    assert_error_shape(write, 403)
    assert_error_shape(neither, 403)


async def test_merging_two_users_keeps_the_latest_subscription_and_all_consent(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FrozenClock,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
) -> None:
    source = make_source(runtime, dev.company.id, opt_in="single")
    await subscribe(client, dev_headers, source, phone=PHONE)
    other_phone = "+13115550199"
    await subscribe(client, dev_headers, source, phone=other_phone)
    clock.advance(5)
    await client.post(
        "/v1/subscriptions/unsubscribe", json={"user": {"phone": other_phone}}, headers=dev_headers
    )
    assert len(subscriptions(runtime)) == 2

    bridge = await client.post(
        "/v1/identity-resolution/user-identifiers",
        json={"phone": PHONE, "clientUserId": "bridge"},
        headers=dev_headers,
    )
    assert bridge.status_code == 202
    merged = await client.post(
        "/v1/identity-resolution/user-identifiers",
        json={"phone": other_phone, "clientUserId": "bridge"},
        headers=dev_headers,
    )
    assert merged.status_code == 202

    [kept] = subscriptions(runtime)
    assert kept.status == "unsubscribed"  # the later decision wins
    records = consent(runtime)
    assert len(records) == 3 and {r.subscription_id for r in records} == {kept.id}
    assert {r.user_id for r in records} == {kept.user_id}


async def bridge(client: httpx.AsyncClient, headers: dict[str, str], *phones: str) -> None:
    """Identify calls that give every phone one client user id: their users merge."""
    for phone in phones:
        response = await client.post(
            "/v1/identity-resolution/user-identifiers",
            json={"phone": phone, "clientUserId": "bridge"},
            headers=headers,
        )
        assert response.status_code == 202


async def eligible(client: httpx.AsyncClient, headers: dict[str, str], phone: str) -> bool:
    response = await client.get("/v1/subscriptions", params={"phone": phone}, headers=headers)
    [item] = response.json()["subscriptionEligibilities"]
    return bool(item["eligibility"]["isEligible"])


async def test_a_merge_never_turns_an_opt_out_back_into_an_opt_in(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FrozenClock,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
) -> None:
    """One phone opted out; another user's phone opted in later. Merging the two users must
    not make the opted-out phone eligible again (the later decision is the other phone's)."""
    source = make_source(runtime, dev.company.id, opt_in="single")
    opted_out = "+13115550199"
    await subscribe(client, dev_headers, source, phone=opted_out)
    await client.post(
        "/v1/subscriptions/unsubscribe", json={"user": {"phone": opted_out}}, headers=dev_headers
    )
    clock.advance(5)
    await subscribe(client, dev_headers, source, phone=PHONE)

    await bridge(client, dev_headers, PHONE, opted_out)

    [kept] = subscriptions(runtime)
    assert kept.status == "unsubscribed"
    assert not await eligible(client, dev_headers, opted_out)
    assert len(consent(runtime)) == 3  # both histories kept


async def test_a_merge_never_confirms_a_pending_opt_in(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FrozenClock,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
) -> None:
    """A phone that has not replied "Y" yet does not become eligible because the user it is
    merged with opted in (and was confirmed) later: the pending opt-in is kept."""
    single = make_source(runtime, dev.company.id, opt_in="single")
    double = make_source(runtime, dev.company.id, opt_in="double", name="double")
    waiting = "+13115550199"
    await subscribe(client, dev_headers, double, phone=waiting)
    clock.advance(5)
    await subscribe(client, dev_headers, single, phone=PHONE)

    await bridge(client, dev_headers, waiting, PHONE)

    [kept] = subscriptions(runtime)
    assert kept.status == "pending"
    assert not await eligible(client, dev_headers, waiting)
