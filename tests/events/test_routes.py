"""The four event operations over HTTP: validation, storage, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from heedful.core.clock import FrozenClock
from heedful.identity import identifiers
from heedful.identity import service as identity
from heedful.runtime import Runtime
from heedful.storage.models.events import Event
from tests.factories import make_tenant
from tests.http.test_errors import assert_error_shape

ITEM = {
    "productId": "AB12345",
    "productVariantId": "CD12345",
    "productImage": "http://my.cdn.com/products/new-product.png",
    "productUrl": "http://my-store.com/products/shirts/my-shirt",
    "name": "T-Shirt",
    "price": [{"value": 19.99, "currency": "USD"}],
    "quantity": 1,
}
USER = {"phone": "+13115552368", "email": "test@gmail.com"}
ECOMMERCE = ["product-view", "add-to-cart", "purchase"]
KINDS = {"product-view": "product_view", "add-to-cart": "add_to_cart", "purchase": "purchase"}


def events(runtime: Runtime) -> list[Event]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def user_of(runtime: Runtime, company_id: int, phone: str) -> int | None:
    with runtime.db.transaction() as session:
        return identity.find_user(session, company_id, identifiers.phone(phone, "phone"))


@pytest.mark.parametrize("path", ECOMMERCE)
async def test_ecommerce_event_is_stored_against_the_user(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str], path: str
) -> None:
    body = {"items": [ITEM], "occurredAt": "2021-03-30T14:38:29+0000", "user": USER}

    response = await client.post(f"/v1/events/ecommerce/{path}", json=body, headers=dev_headers)

    assert response.status_code == 200
    assert response.json() == {}
    [event] = events(runtime)
    assert event.kind == KINDS[path]
    assert event.items == [ITEM]
    assert event.occurred_at == datetime(2021, 3, 30, 14, 38, 29, tzinfo=UTC)
    assert event.received_at == runtime.clock.now()
    assert event.journey_eligible is False
    assert event.user_id == user_of(runtime, event.company_id, USER["phone"])


async def test_price_currency_defaults_to_usd(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    item = {"productId": "p", "productVariantId": "v", "price": [{"value": 5}]}

    response = await client.post(
        "/v1/events/ecommerce/purchase",
        json={"items": [item], "user": {"email": "a@b.co"}, "orderId": "o-1"},
        headers=dev_headers,
    )

    assert response.status_code == 200
    [event] = events(runtime)
    assert event.items == [{**item, "price": [{"value": 5, "currency": "USD"}]}]
    assert event.properties == {"orderId": "o-1"}


@pytest.mark.parametrize(
    "channel", ["WEB", "IOS_APP", "ANDROID_APP", "IN_STORE", "PHONE", "OTHER", ""]
)
async def test_purchase_sales_channel_takes_spec_b_channel_types(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str], channel: str
) -> None:
    body = {"items": [ITEM], "user": USER, "salesChannel": {"channelType": channel}}

    response = await client.post("/v1/events/ecommerce/purchase", json=body, headers=dev_headers)

    assert response.status_code == 200, response.text
    assert events(runtime)[0].properties == {"salesChannel": {"channelType": channel}}


@pytest.mark.parametrize("channel", ["web", "Web", "STORE", " WEB"])
async def test_purchase_sales_channel_outside_spec_b_enum_is_400(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str], channel: str
) -> None:
    body = {"items": [ITEM], "user": USER, "salesChannel": {"channelType": channel}}

    response = await client.post("/v1/events/ecommerce/purchase", json=body, headers=dev_headers)

    error = assert_error_shape(response, 400)
    assert "(field `salesChannel.channelType`)" in error["message"]  # type: ignore[operator]
    assert events(runtime) == []


async def test_custom_event_defaults_occurred_at_to_receipt_and_is_journey_eligible(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    body = {"type": "Order Shipped", "properties": {"Order Id": "54321"}, "user": USER}

    response = await client.post("/v1/events/custom", json=body, headers=dev_headers)

    assert response.status_code == 200
    [event] = events(runtime)
    assert (event.kind, event.type, event.properties) == (
        "custom",
        "Order Shipped",
        body["properties"],
    )
    assert event.occurred_at == event.received_at == runtime.clock.now()
    assert event.journey_eligible is True


@pytest.mark.parametrize(
    ("occurred", "expected"),
    [
        ("2021-03-30T14:38:29+0000", datetime(2021, 3, 30, 14, 38, 29, tzinfo=UTC)),
        ("2021-03-30T14:38:29.000Z", datetime(2021, 3, 30, 14, 38, 29, tzinfo=UTC)),
        ("2021-03-30T16:38:29.5+02:00", datetime(2021, 3, 30, 14, 38, 29, 500000, tzinfo=UTC)),
    ],
)
async def test_occurred_at_accepts_both_spec_forms(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev_headers: dict[str, str],
    occurred: str,
    expected: datetime,
) -> None:
    body = {"type": "t", "occurredAt": occurred, "user": USER}

    assert (
        await client.post("/v1/events/custom", json=body, headers=dev_headers)
    ).status_code == 200

    assert events(runtime)[0].occurred_at == expected


@pytest.mark.parametrize("digits", ["1234567891", "123456789123456789"])
async def test_occurred_at_takes_any_number_of_fraction_digits(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str], digits: str
) -> None:
    # RFC 3339's time-secfrac is "." 1*DIGIT: no upper bound. Kept to the microsecond.
    body = {"type": "t", "occurredAt": f"2021-03-30T14:38:29.{digits}Z", "user": USER}

    response = await client.post("/v1/events/custom", json=body, headers=dev_headers)

    assert response.status_code == 200, response.text
    assert events(runtime)[0].occurred_at == datetime(2021, 3, 30, 14, 38, 29, 123456, tzinfo=UTC)


async def test_twelve_hour_boundary_decides_journey_eligibility(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, dev_headers: dict[str, str]
) -> None:
    for age in (timedelta(hours=12), timedelta(hours=12, seconds=1)):
        occurred = (clock.now() - age).isoformat()
        body = {"type": "t", "occurredAt": occurred, "user": USER}
        assert (
            await client.post("/v1/events/custom", json=body, headers=dev_headers)
        ).status_code == 200

    assert [event.journey_eligible for event in events(runtime)] == [True, False]


async def test_external_event_id_is_idempotent_per_company(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    other = make_tenant(runtime)
    body = {"type": "Order Shipped", "externalEventId": "37fb97a9", "user": USER}

    answers = [
        await client.post("/v1/events/custom", json=body, headers=headers)
        for headers in (dev_headers, dev_headers, other.headers)
    ]

    assert [response.status_code for response in answers] == [200, 200, 200]
    stored = events(runtime)
    assert len(stored) == 2
    assert {event.company_id for event in stored} == {stored[0].company_id, other.company.id}


async def test_concurrent_repeats_of_an_external_event_id_store_one_event(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    import asyncio

    body = {"type": "t", "externalEventId": "same", "user": USER}

    answers = await asyncio.gather(
        *(client.post("/v1/events/custom", json=body, headers=dev_headers) for _ in range(20))
    )

    assert {response.status_code for response in answers} == {200}
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1


async def test_unicode_round_trips_unchanged(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    text = "שלום 👋🏽 e\u0301 مرحبا"
    body = {"type": f"Order {text}", "properties": {f"key {text}": text}, "user": USER}

    assert (
        await client.post("/v1/events/custom", json=body, headers=dev_headers)
    ).status_code == 200

    [event] = events(runtime)
    assert event.type == body["type"]
    assert event.properties == body["properties"]


BAD_CUSTOM: list[tuple[dict[str, Any], str]] = [
    ({"user": USER}, "`type`"),
    ({"type": "t"}, "`user`"),
    ({"type": "t", "user": {}}, "`user` must name at least one identifier"),
    (
        {"type": "t", "user": {"externalIdentifiers": {"clientUserId": "1"}}},
        "`user.phone` or `user.email` is required",
    ),
    ({"type": "t", "user": {"phone": "+13115552368", "name": "x"}}, "unknown field `name`"),
    (
        {"type": "t", "user": {"phone": "19148440001"}},
        "`user.phone` must be a phone number in E.164",
    ),
    ({"type": "t", "user": {"phone": "+1---914---844---0001"}}, "`user.phone`"),
    ({"type": "t", "user": {"email": "not-an-email"}}, "`user.email` is not a valid email"),
    (
        {
            "type": "t",
            "user": {
                "email": "a@b.co",
                "externalIdentifiers": {"customIdentifiers": [{"name": "x"}]},
            },
        },
        "`user.externalIdentifiers.customIdentifiers[0].value` is required",
    ),
    ({"type": "Order (shipped)", "user": USER}, "`type` must not contain ( )"),
    ({"type": "a,b", "user": USER}, "`type` must not contain ,"),
    ({"type": "   ", "user": USER}, "`type` must not be empty"),
    (
        {"type": "t", "properties": {"a|b": 1}, "user": USER},
        "`properties` key 'a|b' must not contain |",
    ),
    ({"type": "t", "properties": {'say "hi"': 1}, "user": USER}, 'must not contain "'),
    ({"type": "t", "occurredAt": "2021-03-30", "user": USER}, "`occurredAt` must be an RFC 3339"),
    (
        {"type": "t", "occurredAt": "2021-13-30T14:38:29Z", "user": USER},
        "`occurredAt` is not a valid",
    ),
    (
        {"type": "t", "occurredAt": "2021-03-30T14:38:29", "user": USER},
        "`occurredAt` must be an RFC 3339",
    ),
    # Valid RFC 3339, but in UTC before year 1 or after year 9999.
    (
        {"type": "t", "occurredAt": "9999-12-31T23:59:59-23:59", "user": USER},
        "`occurredAt` is not a valid",
    ),
    (
        {"type": "t", "occurredAt": "0001-01-01T00:00:00+23:59", "user": USER},
        "`occurredAt` is not a valid",
    ),
    ({"type": "t", "externalEventId": "", "user": USER}, "`externalEventId` must not be empty"),
    # NUL fits SQLite but no PostgreSQL text column: refused on both.
    ({"type": "a\x00b", "user": USER}, "`type` must not contain NUL"),
    ({"type": "t", "externalEventId": "e\x00", "user": USER}, "`externalEventId` must not"),
    ({"type": "t", "user": {"email": "a\x00b@x.co"}}, "`user.email` must not contain NUL"),
    # 312 characters, but 612 once lowercased ("İ" lowercases to two): too long to store.
    (
        {"type": "t", "user": {"email": "İ" * 300 + "@example.com"}},
        "`user.email` must be at most 320 characters",
    ),
    (
        {"type": "t", "user": {**USER, "externalIdentifiers": {"clientUserId": "c\x00"}}},
        "`user.externalIdentifiers.clientUserId` must not contain NUL",
    ),
    ({"type": 7, "user": USER}, "(field `type`)"),
]


@pytest.mark.parametrize(("body", "message"), BAD_CUSTOM)
async def test_bad_custom_events_are_400_naming_the_field(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev_headers: dict[str, str],
    body: dict[str, Any],
    message: str,
) -> None:
    error = assert_error_shape(
        await client.post("/v1/events/custom", json=body, headers=dev_headers), 400
    )

    assert message in error["message"]  # type: ignore[operator]
    assert events(runtime) == []


BAD_ECOMMERCE: list[tuple[dict[str, Any], str]] = [
    ({"user": USER}, "`items`"),
    ({"items": [ITEM]}, "`user`"),
    ({"items": [{**ITEM, "price": []}], "user": USER}, "length >= 1 (field `items[0].price`)"),
    (
        {"items": [{**ITEM, "price": [{"currency": "USD"}]}], "user": USER},
        "`value` (field `items[0].price[0]`)",
    ),
    (
        {"items": [{**ITEM, "price": [{"value": "19.99"}]}], "user": USER},
        "(field `items[0].price[0].value`)",
    ),
    (
        {"items": [{"productId": "p", "price": [{"value": 1}]}], "user": USER},
        "`productVariantId` (field `items[0]`)",
    ),
    ({"items": [{**ITEM, "quantity": 1.5}], "user": USER}, "(field `items[0].quantity`)"),
    ({"items": [{**ITEM, "quantity": 2**63}], "user": USER}, "(field `items[0].quantity`)"),
    ({"items": [ITEM], "user": {"phone": "+13115552368", "extra": 1}}, "(field `user`)"),
]


@pytest.mark.parametrize("path", ECOMMERCE)
@pytest.mark.parametrize(("body", "message"), BAD_ECOMMERCE)
async def test_bad_ecommerce_events_are_400_naming_the_field(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev_headers: dict[str, str],
    path: str,
    body: dict[str, Any],
    message: str,
) -> None:
    response = await client.post(f"/v1/events/ecommerce/{path}", json=body, headers=dev_headers)

    error = assert_error_shape(response, 400)
    assert message in error["message"]  # type: ignore[operator]
    assert events(runtime) == []


async def test_malformed_and_empty_bodies_are_400(
    client: httpx.AsyncClient, dev_headers: dict[str, str]
) -> None:
    for content in (b"", b"{", b"[]", b"null"):
        response = await client.post("/v1/events/custom", content=content, headers=dev_headers)
        assert_error_shape(response, 400)


async def test_scopes_are_enforced(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = make_tenant(runtime, scopes=["events:write"])
    body = {"items": [ITEM], "user": USER}

    custom = await client.post(
        "/v1/events/custom", json={"type": "t", "user": USER}, headers=tenant.headers
    )
    ecommerce = await client.post(
        "/v1/events/ecommerce/purchase", json=body, headers=tenant.headers
    )

    assert custom.status_code == 200
    error = assert_error_shape(ecommerce, 403)
    assert "ecommerce:write" in error["message"]  # type: ignore[operator]


async def test_same_phone_in_two_companies_is_two_users(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first, second = make_tenant(runtime), make_tenant(runtime)
    body = {"type": "t", "user": {"phone": "+13115552368"}}

    for tenant in (first, second):
        assert (
            await client.post("/v1/events/custom", json=body, headers=tenant.headers)
        ).status_code == 200

    one = user_of(runtime, first.company.id, "+13115552368")
    two = user_of(runtime, second.company.id, "+13115552368")
    assert one is not None and two is not None and one != two
    assert {(e.company_id, e.user_id) for e in events(runtime)} == {
        (first.company.id, one),
        (second.company.id, two),
    }
