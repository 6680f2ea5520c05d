"""`emit`: the fan-out other areas call inside their own transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from heedful.core import ids
from heedful.core.clock import FrozenClock
from heedful.runtime import Runtime
from heedful.webhooks import service
from heedful.webhooks.service import Subscriber
from tests.factories import make_company
from tests.webhooks.support import SUBSCRIBER, deliveries, emit, make_webhook

ATTRIBUTE = {"user_property": {"id": "1", "name": "tier", "value": "gold"}}


def test_emit_enqueues_one_delivery_per_subscribed_enabled_webhook(
    runtime: Runtime, clock: FrozenClock
) -> None:
    company = make_company(runtime, "Shop")
    first = make_webhook(runtime, company.id, "https://a.example/h", ["custom_attribute.set"])
    make_webhook(runtime, company.id, "https://b.example/h", ["sms.sent"])
    third = make_webhook(runtime, company.id, "https://c.example/h", ["custom_attribute.set"])

    count = emit(runtime, company.id, "custom_attribute.set", ATTRIBUTE)

    assert count == 2
    made = deliveries(runtime)
    assert [d.webhook_id for d in made] == [first.id, third.id]
    assert {d.state for d in made} == {"pending"}
    assert {d.next_attempt_at for d in made} == {clock.now()}
    assert len({d.public_id for d in made}) == 2
    assert made[0].body == made[1].body
    assert json.loads(made[0].body) == {
        "type": "custom_attribute.set",
        "timestamp": int(clock.now().timestamp() * 1000),
        "company": {"display_name": "Shop", "company_id": ids.COMPANY.encode(company.id)},
        "subscriber": {"external_id": 16467358, "phone": "+15555555555", "email": "test@gmail.com"},
        "user_property": {"id": "1", "name": "tier", "value": "gold"},
    }


def test_the_timestamp_is_when_the_event_occurred(runtime: Runtime) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, "https://a.example/h")
    occurred = datetime(2021, 9, 29, 19, 52, 58, 104000, tzinfo=UTC)

    emit(runtime, company.id, occurred_at=occurred)

    assert json.loads(deliveries(runtime)[0].body)["timestamp"] == 1632945178104


def test_a_rolled_back_transaction_enqueues_nothing(runtime: Runtime) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, "https://a.example/h", ["custom_attribute.set"])

    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        assert service.emit(
            session, runtime.clock, company.id, "custom_attribute.set", SUBSCRIBER, ATTRIBUTE
        )
        raise RuntimeError("the caller's request failed")

    assert deliveries(runtime) == []


def test_bad_parts_are_refused_even_without_webhooks(runtime: Runtime) -> None:
    company = make_company(runtime)

    with pytest.raises(ValueError, match="user_property"), runtime.db.transaction() as session:
        service.emit(session, runtime.clock, company.id, "custom_attribute.set", SUBSCRIBER, {})
    with pytest.raises(ValueError, match="unknown webhook event type"):
        emit(runtime, company.id, "sms.bounced", {})
    assert emit(runtime, company.id, "custom_attribute.set", ATTRIBUTE) == 0


def test_subscriber_is_the_documented_dataclass() -> None:
    subscriber = Subscriber(external_id=1, email="a@b.co")
    assert subscriber.custom_identifiers == {}
    assert subscriber.to_payload() == {"external_id": 1, "email": "a@b.co"}
