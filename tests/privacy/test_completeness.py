"""Erasure leaves nothing behind, whatever the API attached to the subject.

Unlike `test_erasure`, whose world inserts some rows directly, this builds the subject with
every public (and admin) operation that attaches data to a subscriber: identify with every
identifier kind (custom ones included), the four event kinds with properties, custom
attributes, text and email subscriptions (so sandboxed messages are sent), inbound texts, a
merge with a second user, webhook deliveries sent and pending, and message jobs still queued.
Then a delete request goes through the public API, the worker runs (the privacy job first;
work queued before it runs after it), and every column of every row of every table is read
back as text and searched for the subject's phone, emails, identifier values and a marker put
in event properties, attribute values and texts.

What the request record keeps is documented (`docs/privacy.md`): masks and keyed hashes, never
the raw values, so nothing is exempt from the search.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import select, update

from heedful.core.clock import FrozenClock
from heedful.http.logs import JsonFormatter
from heedful.messaging.service import SEND_JOB
from heedful.privacy.service import DELETE_JOB
from heedful.runtime import Runtime
from heedful.storage.models import Base
from heedful.storage.models.job import Job
from heedful.webhooks import service as webhooks
from heedful.webhooks.payloads import EVENT_TYPES
from tests.factories import Tenant, make_tenant
from tests.privacy.conftest import PATH
from tests.subscriptions.support import ADMIN, make_source
from tests.webhooks.receiver import Receiver, make_dispatcher, running_receiver

MARKER = "zqmarker7f3a"
PHONE = "+13115552368"
EMAIL = "subject.whole@example.com"
MERGED_EMAIL = "merged.half@example.com"
SHOPIFY = "shop99887766"
KLAVIYO = "KLAVSUBJECT01XYZ"
CLIENT_ID = "cuid-subject-4242"
CUSTOM = "loyal-5566778899"
OTHER_PHONE = "+13115550000"
OTHER_EMAIL = "other.person@example.com"
OTHER_MARKER = "otherkeep9b1c"

# What must not survive the erasure, anywhere (case-insensitive): the national form of the
# phone too, since texts may hold it.
NEEDLES = (
    PHONE,
    PHONE.removeprefix("+1"),
    EMAIL,
    MERGED_EMAIL,
    SHOPIFY,
    KLAVIYO,
    CLIENT_ID,
    CUSTOM,
    MARKER,
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as started:
        yield started


async def post(client: httpx.AsyncClient, tenant: Tenant, path: str, body: Any) -> None:
    response = await client.post(f"/v1{path}", json=body, headers=tenant.headers)
    assert response.status_code in (200, 202), (path, response.text)


def item(tag: str, marker: str) -> dict[str, Any]:
    return {
        "productId": f"p-{tag}",
        "productVariantId": f"v-{tag}",
        "price": [{"value": 10, "currency": "USD"}],
        "name": f"{marker} {tag}",
        "productUrl": f"https://shop.example/{marker}",
    }


async def every_event(
    client: httpx.AsyncClient, tenant: Tenant, user: dict[str, Any], marker: str = MARKER
) -> None:
    for kind in ("product-view", "add-to-cart", "purchase"):
        body: dict[str, Any] = {"items": [item(kind, marker)], "user": user}
        if kind == "purchase":
            body["orderId"] = f"order-{marker}"
        await post(client, tenant, f"/events/ecommerce/{kind}", body)
    await post(
        client,
        tenant,
        "/events/custom",
        {
            "type": "Order Shipped",
            "properties": {"note": marker, "nested": {"deep": [f"x {marker} y"]}},
            "externalEventId": f"ev-{marker}",
            "user": user,
        },
    )
    await post(
        client,
        tenant,
        "/attributes/custom",
        {"properties": {"favourite": marker, "size": f"L {marker}"}, "user": user},
    )


def run_worker(runtime: Runtime) -> int:
    return runtime.worker().run_until_idle()


async def dispatch(runtime: Runtime) -> int:
    return await anyio.to_thread.run_sync(make_dispatcher(runtime).run_until_idle)


async def build_subject(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, tenant: Tenant, url: str
) -> None:
    company_id = tenant.company.id
    with runtime.db.transaction() as session:
        webhooks.create_webhook(
            session, clock, company_id, url, list(EVENT_TYPES), development=True
        )
    text_source = make_source(runtime, company_id, opt_in="double")
    email_source = make_source(runtime, company_id, opt_in="single", name="email source")

    # The subject, with every kind of identifier, every event kind and attributes.
    await post(
        client,
        tenant,
        "/identity-resolution/user-identifiers",
        {
            "phone": PHONE,
            "email": EMAIL.upper(),
            "shopifyId": SHOPIFY,
            "klaviyoId": KLAVIYO,
            "clientUserId": CLIENT_ID,
            "customIdentifiers": [{"name": "loyaltyId", "value": CUSTOM}],
        },
    )
    await every_event(client, tenant, {"phone": PHONE})
    # Someone else of the company, who must be left alone.
    await every_event(client, tenant, {"phone": OTHER_PHONE, "email": OTHER_EMAIL}, OTHER_MARKER)
    # A second user of the subject's, later merged into them.
    clock.advance(1)
    await every_event(client, tenant, {"email": MERGED_EMAIL})
    await post(
        client,
        tenant,
        "/identity-resolution/user-identifiers",
        {"email": MERGED_EMAIL, "clientUserId": CLIENT_ID},
    )

    # Subscriptions by text (double opt-in: "Reply Y") and by email (single: welcome mail).
    for user, source in (({"phone": PHONE}, text_source), ({"email": EMAIL}, email_source)):
        made = await client.post(
            "/v1/subscriptions",
            json={
                "user": user,
                "signUpSourceId": source,
                "externalIdentifiers": {"clientUserId": CLIENT_ID},
            },
            headers=tenant.headers,
        )
        assert made.status_code in (200, 202), made.text
    assert run_worker(runtime) > 0
    # The subscriber's texts: the confirmation, then a free text naming the marker.
    for text in ("Y", f"hello {MARKER} here"):
        answer = await client.post(
            "/admin/sms/inbound", json={"from": PHONE, "text": text}, headers=ADMIN
        )
        assert answer.status_code == 200, answer.text
    # Deliveries so far are sent (the receiver's answers quote the subject) ...
    assert await dispatch(runtime) > 0
    # ... later ones wait for a receiver that never answers.
    with runtime.db.transaction() as session:
        webhooks.create_webhook(
            session,
            clock,
            company_id,
            "http://127.0.0.1:9/closed",
            list(EVENT_TYPES),
            development=True,
        )
    await post(
        client,
        tenant,
        "/attributes/custom",
        {"properties": {"late": MARKER}, "user": {"phone": PHONE}},
    )


def postpone_message_jobs(runtime: Runtime, by: timedelta) -> int:
    """Queued message sends wait until after the privacy job (work queued before the erasure
    that runs after it)."""
    with runtime.db.transaction() as session:
        return session.execute(
            update(Job)
            .where(Job.kind == SEND_JOB, Job.state == "queued")
            .values(run_at=runtime.clock.now() + by)
        ).rowcount


def all_text(runtime: Runtime) -> Iterator[tuple[str, dict[str, Any], str]]:
    with runtime.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                mapping = dict(row._mapping)
                yield table.name, mapping, json.dumps(mapping, default=str).lower()


# What a text may put between a phone's digits: `(311) 555-2368` holds `3115552368`.
SEPARATORS = re.compile(r"[\s().\-]")


def holds(text: str, needle: str) -> bool:
    text, needle = text.lower(), needle.lower()
    return needle in text or (needle.isdigit() and needle in SEPARATORS.sub("", text))


def hits(runtime: Runtime, needles: tuple[str, ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, row, _ in all_text(runtime):
        for needle in needles:
            columns = [c for c, v in row.items() if holds(str(v), needle)]
            if columns:
                found.setdefault(name, []).append(f"{needle} in {columns} (id {row.get('id')})")
    return found


def logged(records: list[logging.LogRecord], needles: tuple[str, ...]) -> list[str]:
    """The log lines (as heedful writes them) holding any of `needles`."""
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in records]
    return [line for line in lines if any(holds(line, needle) for needle in needles)]


async def test_nothing_the_api_attached_to_the_subject_survives_the_erasure(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FrozenClock,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = make_tenant(runtime)
    receiver.response_body = json.dumps({"received": PHONE, "note": MARKER}).encode()
    await build_subject(client, runtime, clock, tenant, receiver.url())

    # Not vacuous: the subject's data is in every table that can hold it, messages sent and
    # queued, deliveries sent and pending.
    before = hits(runtime, NEEDLES)
    for name in (
        "user_identifiers",
        "user_attributes",
        "events",
        "user_merges",
        "messages",
        "webhook_deliveries",
        "webhook_attempts",
    ):
        assert name in before, f"the subject has no data in {name}"
    for needle in NEEDLES:
        assert any(needle in reason for reasons in before.values() for reason in reasons), needle
    assert postpone_message_jobs(runtime, timedelta(hours=1)) > 0
    other_before = hits(runtime, (OTHER_PHONE, OTHER_EMAIL, OTHER_MARKER))

    made = await client.post(
        PATH,
        json={
            "subjectPhone": PHONE,
            # An audit note naming the subject in every way a person might write it.
            "requestMsg": f"Asked by {EMAIL} on (311) 555-2368 ({PHONE}); account {CLIENT_ID}, "
            f"Shopify {SHOPIFY}, Klaviyo {KLAVIYO}, loyalty {CUSTOM}, also {MERGED_EMAIL}",
        },
        headers=tenant.headers,
    )
    assert made.status_code == 200, made.text
    assert run_worker(runtime) == 1
    with runtime.db.transaction() as session:
        (state,) = session.scalars(select(Job.state).where(Job.kind == DELETE_JOB))
    assert state == "done"
    # What was queued before the erasure runs after it: message sends, webhook deliveries.
    clock.advance(2 * 3600)
    run_worker(runtime)
    await dispatch(runtime)
    # The erased subscriber texts again: nobody knows the phone any more.
    again = await client.post(
        "/admin/sms/inbound", json={"from": PHONE, "text": "hello?"}, headers=ADMIN
    )
    assert again.status_code == 404, again.text

    assert hits(runtime, NEEDLES) == {}
    assert logged(caplog.records, NEEDLES) == []
    assert (
        hits(runtime, (OTHER_PHONE, OTHER_EMAIL, OTHER_MARKER)).keys()
        >= {
            "user_identifiers",
            "events",
            "user_attributes",
        }
        and other_before
    )
    got = (await client.get(f"{PATH}/{made.json()['id']}", headers=tenant.headers)).json()
    assert got["processed"] is True and got["subjectPhone"] == "+*****2368"
