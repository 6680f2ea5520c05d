"""The opt-in flow: double and single opt-in, confirmation by reply, repeats, webhooks."""

from __future__ import annotations

import threading

import anyio.to_thread
import httpx
import msgspec
import pytest
from sqlalchemy import select

from heedful.core import ids
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.identity.identifiers import Identifier
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.privacy import erasure
from heedful.runtime import Runtime
from heedful.storage.models.identity import UserIdentifier
from heedful.storage.models.subscriptions import Subscription
from heedful.subscriptions import service
from heedful.subscriptions.schemas import AddSubscriptionsRequestDto
from heedful.webhooks.dispatcher import Dispatcher
from tests.subscriptions.support import (
    EMAIL,
    PHONE,
    consent,
    dev_source,
    inbound,
    make_source,
    messages,
    outbound_types,
    run_jobs,
    subscribe,
    subscriptions,
)
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import make_webhook


async def eligibility(client: httpx.AsyncClient, headers: dict[str, str], **query: str) -> dict:
    response = await client.get("/v1/subscriptions", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_double_opt_in_end_to_end_reaches_a_real_webhook_receiver(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    hook = make_webhook(
        runtime, dev.company.id, receiver.url("/hook"), ["sms.subscribed", "sms.sent"]
    )
    receiver.expect_key("/hook", hook.signing_key)
    source = dev_source(runtime, dev)

    response = await subscribe(client, dev_headers, source, phone=PHONE)

    assert response.status_code == 202
    assert response.json() == {
        "user": {"phone": PHONE},
        "subscriptionResponses": [
            {
                "subscription": {"type": "MARKETING", "channel": "TEXT"},
                "subscriptionCreationStatus": "NEWLY_CREATED",
            }
        ],
    }
    pending = await eligibility(client, dev_headers, phone=PHONE)
    assert pending["subscriptionEligibilities"] == [
        {
            "subscription": {"type": "MARKETING", "channel": "TEXT"},
            "eligibility": {"isEligible": False},
        }
    ]
    assert run_jobs(runtime) == 1
    [prompt] = messages(runtime)
    assert prompt.type == "OPT_IN_CONFIRMATION" and prompt.status == "sent"
    assert "Reply Y" in prompt.body and prompt.address == PHONE

    reply = await inbound(client, " yes ")
    assert reply.status_code == 200, reply.text
    assert reply.json()["results"][0]["action"] == "confirmed"
    confirmed = await eligibility(client, dev_headers, phone=PHONE)
    assert confirmed["subscriptionEligibilities"][0]["eligibility"] == {"isEligible": True}
    run_jobs(runtime)
    assert outbound_types(runtime) == ["OPT_IN_CONFIRMATION", "WELCOME"]
    welcome = messages(runtime)[-1]
    assert "STOP" in welcome.body and "Msg & data rates may apply" in welcome.body

    await anyio.to_thread.run_sync(dispatcher.run_until_idle)
    got = receiver.wait_for(3)
    assert all(r.signature_valid for r in got)
    by_type: dict[str, list[dict]] = {}
    for r in got:
        by_type.setdefault(r.payload["type"], []).append(r.payload)
    [subscribed] = by_type["sms.subscribed"]
    assert subscribed["subscription"] == {"type": "MARKETING"}
    assert subscribed["creative"] == {"name": "API Marketing", "type": "API"}
    assert subscribed["subscriber"]["phone"] == PHONE
    sent_texts = sorted(p["message"]["text"] for p in by_type["sms.sent"])
    assert sent_texts == sorted(m.body for m in messages(runtime) if m.direction == "outbound")
    ids_sent = {p["message"]["id"] for p in by_type["sms.sent"]}
    assert ids_sent == {
        ids.MESSAGE.encode(m.id) for m in messages(runtime) if m.direction == "outbound"
    }
    assert {p["message"]["channel"] for p in by_type["sms.sent"]} == {"TEXT"}
    actions = [record.action for record in consent(runtime)]
    assert actions == ["opt_in_requested", "confirmed"]


async def test_single_opt_in_source_subscribes_at_once(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    source = make_source(runtime, dev.company.id, opt_in="single")

    response = await subscribe(client, dev_headers, source, phone=PHONE)

    assert response.json()["subscriptionResponses"][0]["subscriptionCreationStatus"] == (
        "NEWLY_CREATED"
    )
    found = await eligibility(client, dev_headers, phone=PHONE)
    assert found["subscriptionEligibilities"][0]["eligibility"]["isEligible"] is True
    assert outbound_types(runtime) == ["WELCOME"]


async def test_spec_b_single_opt_in_flag_skips_the_reply_y_text(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    body = {
        "user": {"phone": PHONE},
        "signUpSourceId": dev_source(runtime, dev),
        "singleOptIn": True,
    }

    response = await client.post("/v1/subscriptions", json=body, headers=dev_headers)

    assert response.status_code == 202
    assert outbound_types(runtime) == ["WELCOME"]
    assert [s.status for s in subscriptions(runtime)] == ["subscribed"]


async def test_email_is_subscribed_at_once_and_fires_email_subscribed(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    hook = make_webhook(runtime, dev.company.id, receiver.url("/hook"), ["email.subscribed"])
    receiver.expect_key("/hook", hook.signing_key)

    response = await subscribe(
        client, dev_headers, dev_source(runtime, dev), email="Test@Gmail.com"
    )

    assert response.json()["subscriptionResponses"] == [
        {
            "subscription": {"type": "MARKETING", "channel": "EMAIL"},
            "subscriptionCreationStatus": "NEWLY_CREATED",
        }
    ]
    found = await eligibility(client, dev_headers, email=EMAIL)
    assert found["subscriptionEligibilities"][0]["eligibility"]["isEligible"] is True
    [welcome] = messages(runtime)
    assert welcome.channel == "EMAIL" and welcome.address == EMAIL
    assert welcome.subject == f"Welcome to {dev.company.name}"
    await anyio.to_thread.run_sync(dispatcher.run_until_idle)
    [delivered] = receiver.wait_for(1)
    assert delivered.payload["type"] == "email.subscribed"
    assert delivered.payload["subscriber"]["email"] == EMAIL


async def test_phone_and_email_make_one_subscription_per_channel_for_one_user(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    body = {
        "user": {"phone": PHONE, "email": EMAIL},
        "signUpSourceId": dev_source(runtime, dev, "TRANSACTIONAL"),
        "externalIdentifiers": {
            "clientUserId": "c-1",
            "customIdentifiers": [{"name": "loyaltyId", "value": "L9"}],
        },
    }

    response = await client.post("/v1/subscriptions", json=body, headers=dev_headers)

    assert response.status_code == 202
    payload = response.json()
    assert payload["externalIdentifiers"] == body["externalIdentifiers"]
    assert [r["subscription"] for r in payload["subscriptionResponses"]] == [
        {"type": "TRANSACTIONAL", "channel": "TEXT"},
        {"type": "TRANSACTIONAL", "channel": "EMAIL"},
    ]
    assert len({s.user_id for s in subscriptions(runtime)}) == 1
    with runtime.db.transaction() as session:
        kinds = sorted((row.kind, row.value) for row in session.scalars(select(UserIdentifier)))
    assert kinds == [("clientUserId", "c-1"), ("custom", "L9"), ("email", EMAIL), ("phone", PHONE)]


async def test_subscribing_again_answers_previously_created_and_texts_already_subscribed(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    source = make_source(runtime, dev.company.id, opt_in="single")
    await subscribe(client, dev_headers, source, phone=PHONE)

    again = await subscribe(client, dev_headers, source, phone=PHONE)

    assert again.json()["subscriptionResponses"][0]["subscriptionCreationStatus"] == (
        "PREVIOUSLY_CREATED"
    )
    assert outbound_types(runtime) == ["WELCOME", "ALREADY_SUBSCRIBED"]
    assert [r.action for r in consent(runtime)] == ["opted_in", "subscribe_attempt"]
    assert all(r.signup_source_id is not None for r in consent(runtime))
    run_jobs(runtime)
    assert "already subscribed" in messages(runtime)[-1].body


async def test_subscribing_again_while_pending_repeats_the_reply_y_request(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    source = dev_source(runtime, dev)
    await subscribe(client, dev_headers, source, phone=PHONE)
    again = await subscribe(client, dev_headers, source, phone=PHONE)

    assert again.json()["subscriptionResponses"][0]["subscriptionCreationStatus"] == (
        "PREVIOUSLY_CREATED"
    )
    assert outbound_types(runtime) == ["OPT_IN_CONFIRMATION", "OPT_IN_CONFIRMATION"]


async def test_fr_ca_source_sends_french_texts(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    source = make_source(runtime, dev.company.id, locale="fr-CA")

    await subscribe(client, dev_headers, source, phone=PHONE)
    await inbound(client, "Y")
    run_jobs(runtime)

    prompt, welcome = messages(runtime)[0], messages(runtime)[-1]
    assert prompt.language == "fr-CA" and "Répondez Y" in prompt.body
    assert welcome.type == "WELCOME" and "Bienvenue" in welcome.body


async def test_spec_b_locale_and_type_pick_the_one_matching_source(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    body = {
        "user": {"phone": PHONE},
        "locale": {"language": "en", "country": "US"},
        "subscriptionType": "TRANSACTIONAL",
    }

    response = await client.post("/v1/subscriptions", json=body, headers=dev_headers)

    assert response.status_code == 202
    assert response.json()["subscriptionResponses"][0]["subscription"]["type"] == "TRANSACTIONAL"
    make_source(runtime, dev.company.id, subscription_type="TRANSACTIONAL", name="second")
    ambiguous = await client.post("/v1/subscriptions", json=body, headers=dev_headers)
    assert ambiguous.status_code == 400
    assert "locale" in ambiguous.json()["error"]["message"]
    none = {**body, "locale": {"language": "fr", "country": "CA"}}
    missing = await client.post("/v1/subscriptions", json=none, headers=dev_headers)
    assert missing.status_code == 400


@pytest.mark.parametrize("first", ["erasure", "merge"])
async def test_subscribe_racing_the_removal_of_its_user_subscribes_the_current_user(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    first: str,
) -> None:
    """On PostgreSQL the subscribe read the user before a concurrent erasure (or merge into an
    older user) committed, then inserted a subscription pointing at the deleted user: a
    foreign-key error, three times, and a 500. SQLite runs one writer at a time."""
    company_id = dev.company.id
    source = dev_source(runtime, dev)
    older = await subscribe(client, dev_headers, source, email=EMAIL)  # the older user
    assert older.status_code == 202
    assert (await subscribe(client, dev_headers, source, phone=PHONE)).status_code == 202
    body = msgspec.convert(
        {"user": {"phone": PHONE}, "signUpSourceId": source}, AddSubscriptionsRequestDto
    )
    outcome: list[object] = []

    def run_subscribe() -> None:
        try:
            with runtime.db.transaction() as session:
                answer = service.subscribe(session, runtime.clock, company_id, body)
            outcome.append(answer.subscriptionResponses[0].subscriptionCreationStatus)
        except Exception as exc:  # the failure is the finding
            outcome.append(exc)

    phone = Identifier(ident.PHONE, PHONE)
    with runtime.db.transaction() as session:
        if first == "erasure":
            erasure.erase(session, runtime.clock.now(), company_id, [phone])
        else:
            identity.resolve(
                session, runtime.clock, company_id, [Identifier(ident.EMAIL, EMAIL), phone]
            )
        racer = threading.Thread(target=run_subscribe)
        racer.start()
        racer.join(0.5)  # let it read (PostgreSQL) or wait for this transaction (SQLite)
    racer.join(10)

    expected = "NEWLY_CREATED" if first == "erasure" else "PREVIOUSLY_CREATED"
    assert outcome == [expected]
    with runtime.db.transaction() as session:
        owner = identity.find_user(session, company_id, phone)
        texts = session.scalars(select(Subscription).where(Subscription.channel == "TEXT"))
        assert [sub.user_id for sub in texts] == [owner]
