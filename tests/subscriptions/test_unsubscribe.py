"""Unsubscribe: channel scoping, statuses, notification language, webhooks; keywords."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
import httpx
import pytest

from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from heedful.webhooks.dispatcher import Dispatcher
from tests.conftest import ADMIN_TOKEN
from tests.http.test_errors import assert_error_shape
from tests.subscriptions.support import (
    EMAIL,
    PHONE,
    consent,
    inbound,
    make_source,
    messages,
    outbound_types,
    run_jobs,
    subscribe,
    subscriptions,
)
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import deliveries, make_webhook


@pytest.fixture
async def everything(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    """The phone and the email subscribed to MARKETING and TRANSACTIONAL (single opt-in)."""
    for kind in ("MARKETING", "TRANSACTIONAL"):
        source = make_source(runtime, dev.company.id, subscription_type=kind, opt_in="single")
        response = await subscribe(client, dev_headers, source, phone=PHONE, email=EMAIL)
        assert response.status_code == 202


async def unsubscribe(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post("/v1/subscriptions/unsubscribe", json=body, headers=headers)


def statuses(runtime: Runtime) -> dict[tuple[str, str], str]:
    return {(s.type, s.channel): s.status for s in subscriptions(runtime)}


@pytest.mark.usefixtures("everything")
async def test_email_alone_never_touches_text_subscriptions(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    before = len(messages(runtime))

    response = await unsubscribe(client, dev_headers, user={"email": EMAIL})

    assert response.status_code == 202
    assert response.json() == {
        "user": {"email": EMAIL},
        "subscriptionResponses": [
            {
                "subscription": {"type": t, "channel": "EMAIL"},
                "subscriptionUnsubscribeStatus": "NEWLY_UNSUBSCRIBED",
            }
            for t in ("MARKETING", "TRANSACTIONAL")
        ],
    }
    assert statuses(runtime) == {
        ("MARKETING", "TEXT"): "subscribed",
        ("TRANSACTIONAL", "TEXT"): "subscribed",
        ("MARKETING", "EMAIL"): "unsubscribed",
        ("TRANSACTIONAL", "EMAIL"): "unsubscribed",
    }
    assert len(messages(runtime)) == before  # no text for an email unsubscribe


@pytest.mark.usefixtures("everything")
async def test_phone_with_listed_subscriptions_touches_only_those(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    response = await unsubscribe(
        client,
        dev_headers,
        user={"phone": PHONE},
        subscriptions=[
            {"type": "MARKETING", "channel": "TEXT"},
            {"type": "MARKETING", "channel": "EMAIL"},  # phone does not locate email
        ],
    )

    assert response.json()["subscriptionResponses"] == [
        {
            "subscription": {"type": "MARKETING", "channel": "TEXT"},
            "subscriptionUnsubscribeStatus": "NEWLY_UNSUBSCRIBED",
        }
    ]
    assert statuses(runtime)[("MARKETING", "TEXT")] == "unsubscribed"
    assert statuses(runtime)[("TRANSACTIONAL", "TEXT")] == "subscribed"
    assert statuses(runtime)[("MARKETING", "EMAIL")] == "subscribed"
    assert outbound_types(runtime)[-1] == "UNSUBSCRIBE_CONFIRMATION"
    assert messages(runtime)[-1].language == "en-US"


@pytest.mark.usefixtures("everything")
async def test_repeated_unsubscribe_is_previously_unsubscribed_recorded_and_texted(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    await unsubscribe(client, dev_headers, user={"phone": PHONE})
    again = await unsubscribe(
        client, dev_headers, user={"phone": PHONE}, notification={"language": "fr-CA"}
    )

    assert {r["subscriptionUnsubscribeStatus"] for r in again.json()["subscriptionResponses"]} == {
        "PREVIOUSLY_UNSUBSCRIBED"
    }
    assert [r.action for r in consent(runtime)].count("unsubscribe_attempt") == 2
    last = messages(runtime)[-1]
    assert last.type == "UNSUBSCRIBE_CONFIRMATION" and last.language == "fr-CA"
    assert "désabonné" in last.body


@pytest.mark.usefixtures("everything")
async def test_notification_disabled_sends_no_text(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str]
) -> None:
    before = outbound_types(runtime)

    response = await unsubscribe(
        client, dev_headers, user={"phone": PHONE}, notification={"disabled": True}
    )

    assert response.status_code == 202
    assert outbound_types(runtime) == before


async def test_the_confirmation_is_in_the_subscribers_language_unless_overridden(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    """`notification` holds properties "to override" (the spec): without it, a subscriber who
    opted in through an fr-CA source is told in French, as a STOP reply tells them."""
    source = make_source(runtime, dev.company.id, opt_in="single", locale="fr-CA")
    await subscribe(client, dev_headers, source, phone=PHONE)

    await unsubscribe(client, dev_headers, user={"phone": PHONE})
    default = messages(runtime)[-1]
    await unsubscribe(
        client, dev_headers, user={"phone": PHONE}, notification={"language": "en-US"}
    )
    overridden = messages(runtime)[-1]

    assert default.type == "UNSUBSCRIBE_CONFIRMATION" and default.language == "fr-CA"
    assert "désabonné" in default.body
    assert overridden.type == "UNSUBSCRIBE_CONFIRMATION" and overridden.language == "en-US"


@pytest.mark.parametrize("language", ["en-us", "fr", "de-DE", ""])
async def test_unsupported_notification_language_is_400(
    client: httpx.AsyncClient, dev: DevelopmentSetup, dev_headers: dict[str, str], language: str
) -> None:
    response = await unsubscribe(
        client, dev_headers, user={"phone": PHONE}, notification={"language": language}
    )

    assert_error_shape(response, 400)
    assert "notification.language" in response.json()["error"]["message"]


async def test_unsubscribing_an_unknown_subscriber_is_404(
    client: httpx.AsyncClient, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    response = await unsubscribe(client, dev_headers, user={"phone": PHONE})

    assert_error_shape(response, 404)


async def test_unsubscribe_fires_sms_and_email_unsubscribed(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dev: DevelopmentSetup,
    dev_headers: dict[str, str],
    everything: None,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    hook = make_webhook(
        runtime, dev.company.id, receiver.url("/hook"), ["sms.unsubscribed", "email.unsubscribed"]
    )
    receiver.expect_key("/hook", hook.signing_key)

    await unsubscribe(
        client,
        dev_headers,
        user={"phone": PHONE, "email": EMAIL},
        subscriptions=[{"type": "TRANSACTIONAL"}],
    )
    await anyio.to_thread.run_sync(dispatcher.run_until_idle)

    got = sorted(
        (r.payload["type"], r.payload["subscription"]["type"]) for r in receiver.wait_for(2)
    )
    assert got == [("email.unsubscribed", "TRANSACTIONAL"), ("sms.unsubscribed", "TRANSACTIONAL")]


@pytest.mark.usefixtures("everything")
@pytest.mark.parametrize("keyword", ["STOP", "stop", " Unsubscribe ", "CANCEL", "end", "Quit"])
async def test_stop_keywords_unsubscribe_every_text_subscription(
    client: httpx.AsyncClient, runtime: Runtime, keyword: str
) -> None:
    response = await inbound(client, keyword)

    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["action"] == "unsubscribed" and len(result["subscriptions"]) == 2
    assert statuses(runtime) == {
        ("MARKETING", "TEXT"): "unsubscribed",
        ("TRANSACTIONAL", "TEXT"): "unsubscribed",
        ("MARKETING", "EMAIL"): "subscribed",
        ("TRANSACTIONAL", "EMAIL"): "subscribed",
    }
    assert outbound_types(runtime)[-1] == "UNSUBSCRIBE_CONFIRMATION"
    inbound_rows = [m for m in messages(runtime) if m.direction == "inbound"]
    assert [m.body for m in inbound_rows] == [keyword]


@pytest.mark.usefixtures("everything")
async def test_help_answers_and_start_resubscribes(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup
) -> None:
    await inbound(client, "HELP")
    assert outbound_types(runtime)[-1] == "HELP"
    assert dev.company.contact_email in messages(runtime)[-1].body

    await inbound(client, "STOP")
    response = await inbound(client, "unstop")

    assert response.json()["results"][0]["action"] == "resubscribed"
    assert statuses(runtime)[("MARKETING", "TEXT")] == "subscribed"
    assert outbound_types(runtime)[-1] == "RESUBSCRIBED"
    assert [r.keyword for r in consent(runtime) if r.keyword] == [
        "STOP",
        "STOP",
        "UNSTOP",
        "UNSTOP",
    ]


async def test_inbound_from_an_unknown_phone_is_404_and_bad_input_400(
    client: httpx.AsyncClient, dev: DevelopmentSetup
) -> None:
    assert_error_shape(await inbound(client, "Y"), 404)
    assert_error_shape(await inbound(client, "Y", phone="12345"), 400)
    no_text = await client.post(
        "/admin/sms/inbound", json={"from": PHONE}, headers={"Authorization": "Bearer nope"}
    )
    assert_error_shape(no_text, 401)


@pytest.mark.parametrize("company", ["9" * 20, "\u00b2"])
async def test_inbound_to_a_company_number_no_company_can_have_is_404(
    client: httpx.AsyncClient, dev: DevelopmentSetup, company: str
) -> None:
    """A number past 64 bits overflowed SQLite's integer binding (a 500 there only); a
    superscript digit passes `isdigit` but not `int`."""
    response = await client.post(
        "/admin/sms/inbound",
        json={"from": PHONE, "text": "Y", "company": company},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )

    assert_error_shape(response, 404)


async def test_resubscribing_after_opting_out_is_newly_created(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    source = make_source(runtime, dev.company.id, opt_in="single")
    await subscribe(client, dev_headers, source, phone=PHONE)
    await unsubscribe(client, dev_headers, user={"phone": PHONE})

    again = await subscribe(client, dev_headers, source, phone=PHONE)

    assert again.json()["subscriptionResponses"][0]["subscriptionCreationStatus"] == (
        "NEWLY_CREATED"
    )
    assert statuses(runtime) == {("MARKETING", "TEXT"): "subscribed"}


async def test_after_a_merge_the_webhooks_name_the_phone_that_texted_stop(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    """A merged user holds two phones. The STOP came from the second one: `sms.unsubscribed`
    and the `sms.sent` of the confirmation texted to it name that phone, not the user's first
    (a receiver that records opt-outs by phone would otherwise opt out the wrong number)."""
    make_webhook(
        runtime, dev.company.id, "http://127.0.0.1:9/hook", ["sms.unsubscribed", "sms.sent"]
    )
    second = "+13115550199"
    source = make_source(runtime, dev.company.id, opt_in="single")
    await subscribe(client, dev_headers, source, phone=PHONE)
    await subscribe(client, dev_headers, source, phone=second)
    for phone in (PHONE, second):  # one client user id: the two users merge
        await client.post(
            "/v1/identity-resolution/user-identifiers",
            json={"phone": phone, "clientUserId": "bridge"},
            headers=dev_headers,
        )
    run_jobs(runtime)
    already = len(deliveries(runtime))

    assert (await inbound(client, "STOP", phone=second)).status_code == 200
    run_jobs(runtime)

    sent = [json.loads(row.body) for row in deliveries(runtime)[already:]]
    assert sorted(body["type"] for body in sent) == ["sms.sent", "sms.unsubscribed"]
    assert {body["subscriber"]["phone"] for body in sent} == {second}
