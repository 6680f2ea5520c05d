"""One builder per event type, each against a fixture of the documented shape (reference §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from heedful.webhooks.payloads import (
    BUILDERS,
    EVENT_TYPES,
    CompanyRef,
    Subscriber,
    build_payload,
)

AT = datetime(2021, 9, 29, 19, 52, 58, 104000, tzinfo=UTC)  # 1632945178104 ms
COMPANY = CompanyRef("Hudson & Ivy", "MDc6Q29tcGFueTU")
SUBSCRIBER = Subscriber(external_id=16467358, phone="+15555555555", email="test@gmail.com")
ENVELOPE = {
    "timestamp": 1632945178104,
    "company": {"display_name": "Hudson & Ivy", "company_id": "MDc6Q29tcGFueTU"},
    "subscriber": {"external_id": 16467358, "phone": "+15555555555", "email": "test@gmail.com"},
}

# (event type, parts given by the emitting area, the documented per-type objects)
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "sms.subscribed",
        {
            "creative": {"name": "Text to Join", "type": "TEXT_TO_JOIN", "subtype": "CODE"},
            "subscription": {"type": "MARKETING"},
        },
        {
            "creative": {"name": "Text to Join", "type": "TEXT_TO_JOIN", "subtype": "CODE"},
            "subscription": {"type": "MARKETING"},
        },
    ),
    (
        "email.subscribed",
        {"creative": {"name": "API", "type": "API"}, "subscription": {"type": "TRANSACTIONAL"}},
        {"creative": {"name": "API", "type": "API"}, "subscription": {"type": "TRANSACTIONAL"}},
    ),
    (
        "sms.unsubscribed",
        {"subscription": {"type": "MARKETING"}},
        {"subscription": {"type": "MARKETING"}},
    ),
    (
        "email.unsubscribed",
        {"subscription": {"type": "MARKETING"}},
        {"subscription": {"type": "MARKETING"}},
    ),
    (
        "sms.sent",
        {"message": {"id": "MDc6TWVzc2FnZTEyNzI1MA", "type": "ONE_TIME", "text": "Shipped!"}},
        {
            "message": {
                "id": "MDc6TWVzc2FnZTEyNzI1MA",
                "type": "ONE_TIME",
                "channel": "TEXT",
                "text": "Shipped!",
            }
        },
    ),
    (
        "email.opened",
        {"message": {"id": "MDc6TWVzc2FnZTE", "name": "Welcome", "type": "CAMPAIGN"}},
        {
            "message": {
                "id": "MDc6TWVzc2FnZTE",
                "channel": "EMAIL",
                "name": "Welcome",
                "type": "CAMPAIGN",
            }
        },
    ),
    (
        "sms.message_link_click",
        {
            "message_link_click": {
                "link_id": "42",
                "message_id": "127250",
                "link_target": "https://shop.example/sale",
                "message_type": "ONE_TIME",
            }
        },
        {
            "message_link_click": {
                "link_id": "42",
                "message_id": "127250",
                "channel": "TEXT",
                "link_target": "https://shop.example/sale",
                "message_type": "ONE_TIME",
            }
        },
    ),
    (
        "email.message_link_click",
        {
            "message_link_click": {
                "link_id": "7",
                "message_id": "9",
                "link_target": "https://shop.example/",
                "channel": "EMAIL",
            }
        },
        {
            "message_link_click": {
                "link_id": "7",
                "message_id": "9",
                "channel": "EMAIL",
                "link_target": "https://shop.example/",
            }
        },
    ),
    (
        "custom_attribute.set",
        {"user_property": {"value": "gold", "name": "tier", "id": "3"}},
        {"user_property": {"id": "3", "name": "tier", "value": "gold"}},
    ),
]


def test_every_event_type_has_a_builder_and_a_fixture() -> None:
    assert sorted(BUILDERS) == sorted(EVENT_TYPES)
    assert sorted(case[0] for case in CASES) == sorted(EVENT_TYPES)
    assert len(EVENT_TYPES) == 9 and "sms.unsubscribed" in EVENT_TYPES


@pytest.mark.parametrize(("event_type", "parts", "documented"), CASES, ids=[c[0] for c in CASES])
def test_builder_matches_the_documented_shape(
    event_type: str, parts: dict[str, Any], documented: dict[str, Any]
) -> None:
    payload = build_payload(
        event_type, occurred_at=AT, company=COMPANY, subscriber=SUBSCRIBER, parts=parts
    )

    assert payload == {"type": event_type, **ENVELOPE, **documented}
    # Field order as documented: envelope first, then the type's objects, each in its order.
    assert list(payload) == ["type", "timestamp", "company", "subscriber", *documented]
    for name, part in documented.items():
        assert list(payload[name]) == list(part)
    json.dumps(payload)  # plain JSON


def test_subscriber_fields_are_absent_not_null_and_identifiers_nest() -> None:
    sms_only = Subscriber(
        external_id=5,
        phone="+15555550100",
        client_user_ids=("u-1", "u-2"),
        custom_identifiers={"loyaltyId": "9"},
    )
    payload = build_payload(
        "sms.subscribed",
        occurred_at=AT,
        company=COMPANY,
        subscriber=sms_only,
        parts={"subscription": {"type": "MARKETING"}},
    )

    assert payload["subscriber"] == {
        "external_id": 5,
        "phone": "+15555550100",
        "external_identifiers": {
            "client_user_id": ["u-1", "u-2"],
            "custom_identifiers": {"loyaltyId": "9"},
        },
    }
    assert "creative" not in payload


@pytest.mark.parametrize(
    ("event_type", "parts", "complaint"),
    [
        ("sms.sent", {}, "`message` is required"),
        (
            "sms.sent",
            {"message": {"id": "1", "type": "ONE_TIME"}},
            "lacks required fields: ['text']",
        ),
        (
            "sms.sent",
            {"message": {"id": "1", "type": "T", "text": "x", "channel": "EMAIL"}},
            "must be 'TEXT'",
        ),
        (
            "sms.sent",
            {"message": {"id": "1", "type": "T", "text": "x", "extra": 1}},
            "unknown fields",
        ),
        (
            "sms.sent",
            {"message": {"id": "1", "type": "T", "text": "x"}, "creative": {}},
            "unknown webhook payload parts",
        ),
        ("custom_attribute.set", {"user_property": {"name": "tier"}}, "['value']"),
        (
            "email.subscribed",
            {"creative": {"name": "x", "type": "y"}},
            "`subscription` is required",
        ),
        ("SMS.SENT", {}, "unknown webhook event type"),
        ("phone.subscribed", {}, "unknown webhook event type"),
    ],
)
def test_parts_that_do_not_fit_the_type_are_a_programming_error(
    event_type: str, parts: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError) as raised:
        build_payload(
            event_type, occurred_at=AT, company=COMPANY, subscriber=SUBSCRIBER, parts=parts
        )
    assert complaint in str(raised.value)


def test_timestamp_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_payload(
            "sms.unsubscribed",
            occurred_at=datetime(2021, 1, 1),
            company=COMPANY,
            subscriber=SUBSCRIBER,
            parts={"subscription": {"type": "MARKETING"}},
        )
