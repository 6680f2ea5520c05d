"""POST /v1/identity-resolution/user-identifiers: resolution, merging and the 400 rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.identity.identifiers import Identifier
from heedful.runtime import Runtime
from heedful.storage.models.events import Event
from heedful.storage.models.identity import User, UserMerge
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape

PATH = "/v1/identity-resolution/user-identifiers"
FULL = {
    "phone": "+13115552368",
    "email": "sample-email@attentivemobile.com",
    "shopifyId": "123456789000",
    "klaviyoId": "0123456789ABCDEFGHIJKLMNOP",
    "clientUserId": "123456",
    "customIdentifiers": [{"name": "loyaltyId", "value": "1122334455"}],
}
EACH_KIND = [
    Identifier(ident.PHONE, "+13115552368"),
    Identifier(ident.EMAIL, "sample-email@attentivemobile.com"),
    Identifier(ident.SHOPIFY_ID, "123456789000"),
    Identifier(ident.KLAVIYO_ID, "0123456789ABCDEFGHIJKLMNOP"),
    Identifier(ident.CLIENT_USER_ID, "123456"),
    Identifier(ident.CUSTOM, "1122334455", "loyaltyId"),
]


def owner(runtime: Runtime, company_id: int, identifier: Identifier) -> int | None:
    with runtime.db.transaction() as session:
        return identity.find_user(session, company_id, identifier)


async def test_identify_links_every_kind_to_one_user(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    response = await client.post(PATH, json=FULL, headers=dev_headers)

    assert response.status_code == 202
    company_id = dev_company(runtime)
    owners = {owner(runtime, company_id, item) for item in EACH_KIND}
    assert len(owners) == 1 and None not in owners


@pytest.mark.parametrize("kind", EACH_KIND, ids=lambda item: item.kind)
async def test_resolution_by_each_identifier_kind(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str], kind: Identifier
) -> None:
    await client.post(PATH, json=FULL, headers=dev_headers)
    company_id = dev_company(runtime)
    expected = owner(runtime, company_id, EACH_KIND[0])

    with runtime.db.transaction() as session:
        resolved = identity.resolve(session, runtime.clock, company_id, [kind])

    assert resolved.user_id == expected
    assert not resolved.created


async def test_emails_compare_case_insensitively(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    await client.post(
        PATH, json={"email": "Ann@Example.COM", "clientUserId": "a"}, headers=dev_headers
    )
    await client.post(
        PATH, json={"email": "ann@example.com", "clientUserId": "b"}, headers=dev_headers
    )

    company_id = dev_company(runtime)
    a = owner(runtime, company_id, Identifier(ident.CLIENT_USER_ID, "a"))
    b = owner(runtime, company_id, Identifier(ident.CLIENT_USER_ID, "b"))
    assert a is not None and a == b


async def test_bridging_two_users_merges_them_with_their_events(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    for user in ({"phone": "+13115552368"}, {"email": "x@example.com"}):
        body = {"type": "visit", "user": user}
        assert (
            await client.post("/v1/events/custom", json=body, headers=dev_headers)
        ).status_code == 200
    company_id = dev_company(runtime)
    by_phone = owner(runtime, company_id, Identifier(ident.PHONE, "+13115552368"))
    by_email = owner(runtime, company_id, Identifier(ident.EMAIL, "x@example.com"))
    assert by_phone != by_email

    bridge = {"phone": "+13115552368", "email": "X@example.com", "clientUserId": "c-1"}
    assert (await client.post(PATH, json=bridge, headers=dev_headers)).status_code == 202

    with runtime.db.transaction() as session:
        users = session.scalars(select(User.id).where(User.company_id == company_id)).all()
        event_users = set(session.scalars(select(Event.user_id)))
        [merge] = session.scalars(select(UserMerge)).all()
        names = identity.identifiers_of(session, company_id, users[0])
    assert users == [min(by_phone, by_email)]  # type: ignore[type-var]
    assert event_users == {users[0]}
    assert (merge.survivor_id, merge.merged_user_id) == (users[0], max(by_phone, by_email))  # type: ignore[type-var]
    assert merge.identifiers == [{"kind": "email", "name": "", "value": "x@example.com"}]
    assert {item.kind for item in names} == {"phone", "email", "clientUserId"}


async def test_an_event_naming_two_users_merges_them(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    await client.post(
        PATH, json={"phone": "+13115552368", "clientUserId": "p"}, headers=dev_headers
    )
    await client.post(
        PATH, json={"email": "x@example.com", "clientUserId": "e"}, headers=dev_headers
    )

    body = {"type": "t", "user": {"phone": "+13115552368", "email": "x@example.com"}}
    assert (
        await client.post("/v1/events/custom", json=body, headers=dev_headers)
    ).status_code == 200

    company_id = dev_company(runtime)
    p = owner(runtime, company_id, Identifier(ident.CLIENT_USER_ID, "p"))
    e = owner(runtime, company_id, Identifier(ident.CLIENT_USER_ID, "e"))
    assert p == e is not None
    with runtime.db.transaction() as session:
        assert set(session.scalars(select(Event.user_id))) == {p}
        assert identity.current_user_id(session, company_id, p + 1) == p  # type: ignore[operator]


async def test_same_identifiers_in_two_companies_are_two_users(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first, second = make_tenant(runtime), make_tenant(runtime)
    for tenant in (first, second):
        assert (await client.post(PATH, json=FULL, headers=tenant.headers)).status_code == 202

    phone = EACH_KIND[0]
    one, two = owner(runtime, first.company.id, phone), owner(runtime, second.company.id, phone)
    assert one is not None and two is not None and one != two


BAD: list[tuple[Any, str]] = [
    ({}, "must name at least one identifier"),
    (None, "must name at least one identifier"),
    ({"clientUserId": "123456"}, "`clientUserId` must be accompanied by at least one other"),
    (
        {"customIdentifiers": [{"name": "a", "value": "1"}]},
        "`customIdentifiers` must be accompanied",
    ),
    ({"phone": "19148440001"}, "`phone` must be a phone number in E.164"),
    ({"email": "a" * 95 + "@b.com"}, "`email` must be at most 100 characters"),
    ({"phone": "+13115552368", "shopifyId": "1" * 101}, "`shopifyId` must be at most 100"),
    ({"phone": "+13115552368", "klaviyoId": "k" * 101}, "`klaviyoId` must be at most 100"),
    ({"phone": "+13115552368", "clientUserId": "c" * 101}, "`clientUserId` must be at most 100"),
    (
        {"phone": "+13115552368", "customIdentifiers": [{"name": "n", "value": "v" * 101}]},
        "`customIdentifiers[0].value` must be at most 100",
    ),
    (
        {"phone": "+13115552368", "customIdentifiers": [{"name": "n"}]},
        "`value` (field `customIdentifiers[0]`)",
    ),
    (
        {"phone": "+13115552368", "customIdentifiers": [{"value": "v"}]},
        "`name` (field `customIdentifiers[0]`)",
    ),
    ({"phone": "+13115552368", "clientUserId": ""}, "`clientUserId` must not be empty"),
    # NUL fits SQLite but no PostgreSQL text column: refused on both.
    ({"phone": "+13115552368", "clientUserId": "a\x00"}, "`clientUserId` must not contain NUL"),
    ({"email": "a\x00b@example.com"}, "`email` must not contain NUL"),
    (
        {"phone": "+13115552368", "customIdentifiers": [{"name": "n", "value": "v\x00"}]},
        "`customIdentifiers[0].value` must not contain NUL",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD)
async def test_bad_identify_requests_are_400(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev_headers: dict[str, str],
    body: Any,
    message: str,
) -> None:
    kwargs = {"json": body} if body is not None else {}

    error = assert_error_shape(await client.post(PATH, headers=dev_headers, **kwargs), 400)

    assert message in error["message"]  # type: ignore[operator]
    with runtime.db.transaction() as session:
        assert session.scalars(select(User)).all() == []


async def test_identify_may_name_more_identifiers_than_a_statement_takes_parameters(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    # PostgreSQL takes at most 65535 parameters per statement; this body is about 2 MB.
    count = 66_000
    many = [{"name": "n", "value": str(number)} for number in range(count)]

    response = await client.post(
        PATH, json={"phone": "+13115552368", "customIdentifiers": many}, headers=dev_headers
    )

    assert response.status_code == 202
    company_id = dev_company(runtime)
    last = Identifier(ident.CUSTOM, str(count - 1), "n")
    assert owner(runtime, company_id, last) == owner(runtime, company_id, EACH_KIND[0])


async def test_two_custom_identifiers_need_nothing_else(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    body = {"customIdentifiers": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]}

    assert (await client.post(PATH, json=body, headers=dev_headers)).status_code == 202


def dev_company(runtime: Runtime) -> int:
    from heedful.oauth import repository

    with runtime.db.transaction() as session:
        company = repository.development_company(session)
        assert company is not None
        return company.id
