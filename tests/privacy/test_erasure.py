"""Erasure is complete: after processing, no row of any table names the subject.

The completeness test is driven by `Base.metadata`: every table there is either declared to hold
no subscriber data (`erasure.NO_SUBJECT_DATA`) or must get the subject's data from the world
builder (`world.SEEDERS`); a table added later by another area fails here by name until it is
both covered by erasure and seeded by this test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from heedful.core.clock import FrozenClock
from heedful.privacy import erasure
from heedful.runtime import Runtime
from heedful.storage.models import Base
from heedful.webhooks.dispatcher import DeliveryPolicy, Dispatcher
from heedful.webhooks.payloads import Subscriber
from tests.factories import make_tenant
from tests.privacy import world
from tests.privacy.conftest import PATH
from tests.webhooks.receiver import Receiver, running_receiver
from tests.webhooks.support import deliveries, emit, make_webhook


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as started:
        yield started


def subject_tables() -> list[str]:
    return sorted(
        t.name for t in Base.metadata.sorted_tables if t.name not in erasure.NO_SUBJECT_DATA
    )


def test_every_table_is_covered_by_privacy_deletion() -> None:
    uncovered = erasure.uncovered_tables()

    assert not uncovered, (
        f"table(s) {', '.join(uncovered)} not covered by privacy deletion: give them a foreign "
        "key to users, a scrubber (erasure.SCRUBBED) or declare them in erasure.NO_SUBJECT_DATA"
    )


def test_every_table_that_can_hold_subject_data_is_seeded_by_the_completeness_test() -> None:
    missing = [name for name in subject_tables() if name not in world.SEEDERS]

    assert not missing, (
        f"table(s) {', '.join(missing)} not covered by the privacy deletion test: add the "
        "subject's data to them in tests/privacy/world.py (SEEDERS and build)"
    )


async def test_processing_erases_every_trace_of_the_subject_and_nothing_else(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FrozenClock,
    receiver: Receiver,
    run_jobs: Callable[[], int],
) -> None:
    tenant, elsewhere = make_tenant(runtime), make_tenant(runtime)
    w = await world.build(client, runtime, clock, tenant, elsewhere, receiver)
    made = await client.post(
        PATH,
        json={
            "subjectPhone": "(311) 555-2368",  # national form: +1 in a US company
            "subjectEmail": "SUBJECT.Person@example.com",
            "requestMsg": f"Asked by {world.SUBJECT_EMAIL} on the phone",
        },
        headers=tenant.headers,
    )
    assert made.status_code == 200, made.text
    before = world.all_rows(runtime)

    # Not vacuous: the subject is in every table that can hold subscriber data.
    found = world.scan(before, w.company_id, w.subject, lambda name: True)
    unseeded = [name for name in subject_tables() if name not in found]
    assert not unseeded, f"the world holds no subject data in {unseeded}"

    assert run_jobs() >= 1
    after = world.all_rows(runtime)

    leftovers = world.scan(after, w.company_id, w.subject, lambda name: True)
    assert leftovers == {}, f"the subject is still in: {leftovers}"
    _assert_intact(before, after, w.elsewhere_company_id, w.twin, world.Person("", []))
    _assert_intact(before, after, w.company_id, w.other, w.subject)

    got = (await client.get(f"{PATH}/{made.json()['id']}", headers=tenant.headers)).json()
    assert got["processed"] is True
    assert got["subjectPhone"] == "+*****2368" and got["subjectEmail"] == "s**@example.com"
    assert got["requestMsg"] == "Asked by s**@example.com on the phone"
    (record,) = after["privacy_requests"]
    assert record["outcome"]["users"] == 1
    assert record["outcome"]["deleted"]["events"] == 3  # first, the merged user's, later
    assert record["phone_hash"] and record["email_hash"] and record["client_user_id_hash"] is None


def _assert_intact(
    before: dict[str, list[dict[str, Any]]],
    after: dict[str, list[dict[str, Any]]],
    company_id: int,
    person: world.Person,
    subject: world.Person,
) -> None:
    """Every row of `company_id` that names `person` is still there, unchanged unless it also
    quoted the subject (a webhook answer quoting the subject's phone is cleared)."""
    checked = 0
    for name, rows in before.items():
        now = {_key(name, row): row for row in after[name]}
        for row in rows:
            if not world.in_company(row, company_id, name) or "company_id" not in row:
                continue
            if not world.mentions(name, row, person):
                continue
            key = _key(name, row)
            assert key in now, f"{name} row {key} of the other user was deleted"
            if not world.mentions(name, row, subject):
                assert now[key] == row, f"{name} row {key} of the other user changed"
            checked += 1
    assert checked >= 8, checked


def _key(name: str, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in Base.metadata.tables[name].primary_key.columns)


async def test_a_subject_nobody_matches_is_processed_with_nothing_deleted(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FrozenClock,
    receiver: Receiver,
    run_jobs: Callable[[], int],
) -> None:
    tenant, elsewhere = make_tenant(runtime), make_tenant(runtime)
    await world.build(client, runtime, clock, tenant, elsewhere, receiver)
    made = await client.post(
        PATH, json={"subjectEmail": "nobody@example.com"}, headers=elsewhere.headers
    )
    before = world.all_rows(runtime)

    assert run_jobs() == 1
    after = world.all_rows(runtime)

    got = (await client.get(f"{PATH}/{made.json()['id']}", headers=elsewhere.headers)).json()
    assert got["processed"] is True
    for name in before:
        if name not in ("jobs", "privacy_requests"):
            assert before[name] == after[name], name
    (record,) = after["privacy_requests"]
    assert record["outcome"] == {"users": 0, "deleted": {}, "scrubbed": {}}


async def test_the_same_phone_in_another_company_is_untouched(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FrozenClock,
    receiver: Receiver,
    run_jobs: Callable[[], int],
) -> None:
    tenant, elsewhere = make_tenant(runtime), make_tenant(runtime)
    w = await world.build(client, runtime, clock, tenant, elsewhere, receiver)
    await client.post(PATH, json={"subjectPhone": world.SUBJECT_PHONE}, headers=elsewhere.headers)

    run_jobs()
    rows = world.all_rows(runtime)

    assert world.scan(rows, w.elsewhere_company_id, w.twin, lambda name: True) == {}
    in_tenant = world.scan(rows, w.company_id, w.subject, lambda name: True)
    assert set(in_tenant) >= {"users", "user_identifiers", "events", "webhook_deliveries"}


async def test_a_delivery_held_by_a_crashed_dispatcher_delays_the_erasure_but_never_drops_it(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, run_jobs: Callable[[], int]
) -> None:
    tenant = make_tenant(runtime)
    hook = make_webhook(runtime, tenant.company.id, "http://127.0.0.1:9/hook")
    subject = Subscriber(external_id=1, phone=world.SUBJECT_PHONE)
    emit(runtime, hook.company_id, subscriber=subject)
    # A dispatcher claims the delivery about the subject and its process dies: the delivery
    # stays `sending` until its lease (5 minutes with a 30 s timeout) runs out.
    crashed = Dispatcher(runtime.db, clock, DeliveryPolicy(timeout=30.0))
    assert len(crashed._claim(10)) == 1
    made = await client.post(
        PATH, json={"subjectPhone": world.SUBJECT_PHONE}, headers=tenant.headers
    )

    for _ in range(80):  # 400 s of the test's clock, running what is due every 5 s
        run_jobs()
        clock.advance(timedelta(seconds=5))

    got = await client.get(f"{PATH}/{made.json()['id']}", headers=tenant.headers)
    assert got.json()["processed"] is True
    assert deliveries(runtime) == []
