"""Events, custom attributes, identify and merges racing an erasure of the same user.

Each race is played in a fixed order on PostgreSQL (see `tests.races`): the racer has read
the user (by its identifiers) and waits on the erasure's lock when the erasure commits. An
erasure promises that what it found is gone; a request that names the subject's identifiers
afterwards is like one naming an unknown user: a fresh user is created from them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from heedful.attributes import service as attributes
from heedful.events import service as events_service
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.identity.identifiers import Identifier
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.privacy import erasure
from heedful.runtime import Runtime
from heedful.storage.models.events import Event
from heedful.storage.models.webhooks import WebhookDelivery
from heedful.webhooks import service as webhooks
from tests.races import (
    WAIT_SECONDS,
    Racer,
    eraser,
    erasure_held_after_locking_the_user,
    lock_waiters,
    race_erasure,
    settle,
    wait_for_lock_waits,
)

PHONE = "+13115552368"
EMAIL = "subject.person@example.com"
OTHER_PHONE = "+13115550000"
SUBJECT = Identifier(ident.PHONE, PHONE)


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, body: object
) -> httpx.Response:
    return await client.post(path, json=body, headers=headers)


async def custom_event(
    client: httpx.AsyncClient, headers: dict[str, str], phone: str, event_type: str
) -> httpx.Response:
    body = {"type": event_type, "user": {"phone": phone}}
    return await post(client, headers, "/v1/events/custom", body)


def owner(runtime: Runtime, company_id: int, item: Identifier) -> int | None:
    with runtime.db.read() as session:
        return identity.find_user(session, company_id, item)


def stored_events(runtime: Runtime) -> list[tuple[int, str | None]]:
    with runtime.db.read() as session:
        stmt = select(Event.user_id, Event.type).order_by(Event.id)
        return [(user_id, type_) for user_id, type_ in session.execute(stmt)]


def assert_erased_one_user(racer: Racer) -> None:
    assert racer.outcome and isinstance(racer.outcome[0], erasure.Report), racer.outcome
    assert racer.outcome[0].users == 1


async def wait_for_the_writer(runtime: Runtime, task: asyncio.Task[object], waiting: int) -> None:
    """PostgreSQL: until the writer thread, busy with `task`'s write, waits on a lock."""
    if runtime.db.dialect == "postgresql":
        await asyncio.to_thread(
            wait_for_lock_waits, runtime.db, waiting, lambda: not task.done(), lambda: task
        )


def answered_or_waiting(runtime: Runtime, task: asyncio.Task[object], waiting: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not task.done():
        if runtime.db.dialect != "postgresql" or lock_waiters(runtime.db) >= waiting:
            return
        assert time.monotonic() < deadline, "neither answered nor waiting on a lock"
        time.sleep(0.01)


async def while_erasing(
    runtime: Runtime,
    company_id: int,
    subject: int,
    send: Callable[[], Coroutine[Any, Any, httpx.Response]],
    until: Callable[[asyncio.Task[httpx.Response]], Awaitable[None]],
) -> tuple[Racer, httpx.Response]:
    """The erasure of `SUBJECT` (user `subject`) held after locking the user; `send` started
    meanwhile, and let go once `until` says the request has gone far enough. Returns the
    erasure (finished) and the request's answer."""
    erasing = eraser(runtime, company_id, SUBJECT)
    with erasure_held_after_locking_the_user(runtime, company_id, subject):
        erasing.start()
        await asyncio.to_thread(settle, runtime.db, erasing, 1)
        request = asyncio.create_task(send())
        await until(request)
    erasing.join(WAIT_SECONDS)
    return erasing, await asyncio.wait_for(request, WAIT_SECONDS)


def writer_waits(runtime: Runtime) -> Callable[[asyncio.Task[httpx.Response]], Awaitable[None]]:
    async def until(request: asyncio.Task[httpx.Response]) -> None:
        await wait_for_the_writer(runtime, request, waiting=2)

    return until


async def test_event_racing_an_erasure_lands_on_a_fresh_user(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    """The writer found the user by its phone, then inserted the event for it; the insert's
    foreign-key check waited for the erasure holding the user and then failed. The driver's
    error (the insert goes straight to psycopg) was not retried like SQLAlchemy's: a 500."""
    company_id = dev.company.id
    assert (await custom_event(client, dev_headers, PHONE, "before")).status_code == 200
    subject = owner(runtime, company_id, SUBJECT)
    assert subject is not None
    erasing, response = await while_erasing(
        runtime,
        company_id,
        subject,
        lambda: custom_event(client, dev_headers, PHONE, "racing"),
        writer_waits(runtime),
    )

    assert_erased_one_user(erasing)
    assert response.status_code == 200, response.text
    fresh = owner(runtime, company_id, SUBJECT)
    assert fresh is not None
    assert stored_events(runtime) == [(fresh, "racing")]


async def test_a_batch_holding_an_erased_users_event_commits_as_one(
    runtime: Runtime, dev: DevelopmentSetup, caplog: pytest.LogCaptureFixture
) -> None:
    """The erased user's event broke the whole batch's transaction; the batch was then split
    and every write committed alone (hundreds of transactions under load) instead of the
    batch being retried once."""
    company_id = dev.company.id
    now = runtime.clock.now()

    def event(phone: str, event_type: str) -> events_service.NewEvent:
        identifiers = (Identifier(ident.PHONE, phone),)
        return events_service.NewEvent(company_id, "custom", identifiers, now, now, event_type)

    writer = runtime.writer
    await writer.submit(events_service.record_batch, event(PHONE, "before"))
    await writer.submit(events_service.record_batch, event(OTHER_PHONE, "before"))
    subject = owner(runtime, company_id, SUBJECT)
    other = owner(runtime, company_id, Identifier(ident.PHONE, OTHER_PHONE))
    assert subject is not None and other is not None
    erasing = eraser(runtime, company_id, SUBJECT)
    caplog.set_level(logging.WARNING, logger="heedful.ingest")

    with erasure_held_after_locking_the_user(runtime, company_id, subject):
        erasing.start()
        await asyncio.to_thread(settle, runtime.db, erasing, 1)
        # Submitted in one turn of the event loop: handed to the writer as one batch.
        batch = asyncio.gather(
            writer.submit(events_service.record_batch, event(OTHER_PHONE, "neighbour")),
            writer.submit(events_service.record_batch, event(PHONE, "racing")),
        )
        await wait_for_the_writer(runtime, asyncio.ensure_future(batch), waiting=2)
    erasing.join(WAIT_SECONDS)
    outcomes = await asyncio.wait_for(batch, WAIT_SECONDS)

    assert_erased_one_user(erasing)
    assert outcomes == [True, True]
    fresh = owner(runtime, company_id, SUBJECT)
    assert fresh is not None
    assert sorted(stored_events(runtime)) == sorted(
        [(other, "before"), (other, "neighbour"), (fresh, "racing")]
    )
    assert [r.getMessage() for r in caplog.records if r.name == "heedful.ingest"] == []


async def test_attribute_racing_an_erasure_lands_on_a_fresh_user(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    """A new attribute is an insert for the user found: its foreign key waits for the erasure
    like an event's (the writer retries the batch, which then creates a fresh user)."""
    company_id = dev.company.id
    path = "/v1/attributes/custom"
    body = {"properties": {"tier": "gold"}, "user": {"phone": PHONE}}
    assert (await post(client, dev_headers, path, body)).status_code == 200
    subject = owner(runtime, company_id, SUBJECT)
    assert subject is not None
    racing = {"properties": {"size": "M"}, "user": {"phone": PHONE}}
    erasing, response = await while_erasing(
        runtime,
        company_id,
        subject,
        lambda: post(client, dev_headers, path, racing),
        writer_waits(runtime),
    )

    assert_erased_one_user(erasing)
    assert response.status_code == 200, response.text
    fresh = owner(runtime, company_id, SUBJECT)
    assert fresh is not None
    with runtime.db.read() as session:
        assert attributes.attributes_of(session, company_id, fresh) == [("size", "string", "M")]


async def test_attribute_change_racing_an_erasure_leaves_no_webhook_about_the_subject(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    """Changing an attribute the user already has is an update: no foreign-key check, so it
    does not wait for the erasure holding the user. It committed, with its
    `custom_attribute.set` delivery (the subject's phone in its body), while the erasure was
    between its scan of the deliveries and the deletion of the user: the delivery outlived the
    erasure."""
    company_id = dev.company.id
    with runtime.db.transaction() as session:
        webhooks.create_webhook(
            session,
            runtime.clock,
            company_id,
            "http://127.0.0.1:9/hook",
            ["custom_attribute.set"],
            development=True,
        )
    path = "/v1/attributes/custom"
    body = {"properties": {"tier": "gold"}, "user": {"phone": PHONE}}
    assert (await post(client, dev_headers, path, body)).status_code == 200
    subject = owner(runtime, company_id, SUBJECT)
    assert subject is not None
    racing = {"properties": {"tier": "platinum"}, "user": {"phone": PHONE}}

    async def answered_or_waits(request: asyncio.Task[httpx.Response]) -> None:
        # The change is answered first, or waits for the erasure (then 2 backends wait).
        await asyncio.to_thread(answered_or_waiting, runtime, request, 2)

    erasing, response = await while_erasing(
        runtime,
        company_id,
        subject,
        lambda: post(client, dev_headers, path, racing),
        answered_or_waits,
    )

    assert_erased_one_user(erasing)
    assert response.status_code == 200, response.text
    with runtime.db.read() as session:
        bodies = session.scalars(select(WebhookDelivery.body)).all()
    fresh = owner(runtime, company_id, SUBJECT)
    about_the_phone = [b for b in bodies if PHONE in b]
    if fresh is None:  # the change came first: erased with the user, its delivery too
        assert about_the_phone == []
    else:  # the change came after: a fresh user, and a delivery about it alone
        assert len(about_the_phone) == 1 and str(fresh) in about_the_phone[0]


async def test_identify_merging_a_user_being_erased_links_the_identifiers_afresh(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    """identify saw two users (the subject by phone, another by email) and merged them: the
    merge locked both, and the subject was gone when the lock came. It answered 400 ("No user
    N in this company"), an error about an id the client never sent."""
    company_id = dev.company.id
    assert (await custom_event(client, dev_headers, PHONE, "subject")).status_code == 200
    body = {"type": "other", "user": {"email": EMAIL}}
    assert (await post(client, dev_headers, "/v1/events/custom", body)).status_code == 200
    subject = owner(runtime, company_id, SUBJECT)
    other = owner(runtime, company_id, Identifier(ident.EMAIL, EMAIL))
    assert subject is not None and other is not None
    erasing = eraser(runtime, company_id, SUBJECT)
    both = [SUBJECT, Identifier(ident.EMAIL, EMAIL)]
    identifying = Racer(
        runtime, lambda session: identity.identify(session, runtime.clock, company_id, both)
    )

    race_erasure(runtime, company_id, subject, erasing, identifying)

    assert_erased_one_user(erasing)
    [resolution] = identifying.outcome
    assert isinstance(resolution, identity.Resolution), resolution
    assert resolution.user_id == other
    assert owner(runtime, company_id, SUBJECT) == other
    assert stored_events(runtime) == [(other, "other")]


async def test_erasure_racing_a_merge_erases_the_survivor(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> None:
    """A merge folded the subject's user into an older one while the erasure waited to lock
    the subject's user; the lock came on a deleted row, so the erasure erased nothing, and the
    survivor kept the subject's phone and events."""
    company_id = dev.company.id
    body = {"type": "older", "user": {"email": EMAIL}}
    assert (await post(client, dev_headers, "/v1/events/custom", body)).status_code == 200
    runtime.clock.advance(timedelta(seconds=1))
    assert (await custom_event(client, dev_headers, PHONE, "subject")).status_code == 200
    older = owner(runtime, company_id, Identifier(ident.EMAIL, EMAIL))
    subject = owner(runtime, company_id, SUBJECT)
    assert older is not None and subject is not None and older < subject
    both = [SUBJECT, Identifier(ident.EMAIL, EMAIL)]
    merging = Racer(
        runtime, lambda session: identity.identify(session, runtime.clock, company_id, both)
    )
    erasing = eraser(runtime, company_id, SUBJECT)

    if runtime.db.dialect == "postgresql":
        # Another transaction locks the subject's event: the merge stops moving it, holding
        # both users' locks.
        with runtime.db.engine.connect() as blocker:
            stmt = text("SELECT id FROM events WHERE user_id = :user FOR UPDATE")
            blocker.execute(stmt, {"user": subject})
            merging.start()
            settle(runtime.db, merging, waiting=1)
            erasing.start()
            settle(runtime.db, erasing, waiting=2)
            blocker.rollback()
    else:
        merging.start()
        merging.join(WAIT_SECONDS)
        erasing.start()
    merging.join(WAIT_SECONDS)
    erasing.join(WAIT_SECONDS)

    [resolution] = merging.outcome
    assert isinstance(resolution, identity.Resolution), resolution
    assert_erased_one_user(erasing)
    assert owner(runtime, company_id, SUBJECT) is None
    assert owner(runtime, company_id, Identifier(ident.EMAIL, EMAIL)) is None
    assert stored_events(runtime) == []
