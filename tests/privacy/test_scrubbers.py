"""Each copy of personal data that no foreign key leads to, erased on its own; coverage rules."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, func, insert, select

from heedful.core.clock import FrozenClock
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.jobs.queue import enqueue
from heedful.oauth import repository as oauth_repository
from heedful.privacy import erasure
from heedful.runtime import Runtime
from heedful.storage.models import Base, Job
from heedful.storage.models.identity import User, UserMerge
from heedful.storage.models.webhooks import WebhookAttempt, WebhookDelivery
from heedful.webhooks import service as webhooks
from heedful.webhooks.payloads import Subscriber
from tests.factories import make_tenant
from tests.privacy.conftest import PATH
from tests.storage.schema import real_foreign_keys

PHONE = ident.Identifier(ident.PHONE, "+13115552368")
EMAIL = ident.Identifier(ident.EMAIL, "subject@example.com")


def make_user(runtime: Runtime, company_id: int, *items: ident.Identifier) -> int:
    with runtime.db.transaction() as session:
        return identity.resolve(session, runtime.clock, company_id, items).user_id


def emit(runtime: Runtime, company_id: int, user_id: int, phone: str | None) -> None:
    with runtime.db.transaction() as session:
        webhooks.emit(
            session,
            runtime.clock,
            company_id,
            "custom_attribute.set",
            Subscriber(user_id, phone=phone),
            {"user_property": {"name": "a", "value": "b"}},
        )


def webhook(runtime: Runtime, company_id: int) -> None:
    with runtime.db.transaction() as session:
        webhooks.create_webhook(
            session,
            runtime.clock,
            company_id,
            "http://127.0.0.1:9/hook",
            ["custom_attribute.set"],
            development=True,
        )


def erase(runtime: Runtime, company_id: int, *items: ident.Identifier) -> erasure.Report:
    with runtime.db.transaction() as session:
        return erasure.erase(session, runtime.clock.now(), company_id, items)


def count(runtime: Runtime, model: Any, *where: Any) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_merged_away_id_reused_by_a_new_user_keeps_the_new_users_data(
    runtime: Runtime, clock: FrozenClock
) -> None:
    """SQLite hands a deleted user's id to the next user: references to that id written
    before the new user existed are the subject's, later ones the new user's."""
    company_id = make_tenant(runtime).company.id
    webhook(runtime, company_id)
    subject_id = make_user(runtime, company_id, PHONE)
    clock.advance(1)
    merged_id = make_user(runtime, company_id, EMAIL)
    emit(runtime, company_id, merged_id, None)  # about the subject, by the soon-former id
    clock.advance(1)
    make_user(runtime, company_id, PHONE, EMAIL)  # bridges: merged_id is folded in
    clock.advance(1)
    with runtime.db.transaction() as session:  # a new user with that id (as SQLite does)
        session.execute(
            insert(User).values(id=merged_id, company_id=company_id, created_at=clock.now())
        )
        session.add(
            Job(
                company_id=company_id,
                kind="test.later",
                payload={"user_id": merged_id},
                state="queued",
                attempts=0,
                run_at=clock.now(),
                created_at=clock.now(),
            )
        )
    clock.advance(1)
    emit(runtime, company_id, merged_id, None)  # about the new user

    report = erase(runtime, company_id, PHONE)

    assert report.users == 1 and report.deleted["webhook_deliveries"] == 1
    assert count(runtime, User, User.id == subject_id) == 0
    assert count(runtime, User, User.id == merged_id) == 1
    assert count(runtime, WebhookDelivery) == 1
    assert count(runtime, Job) == 1
    assert count(runtime, UserMerge) == 0


def test_merge_records_quoting_the_subject_are_deleted_even_without_a_foreign_key(
    runtime: Runtime,
) -> None:
    company_id = make_tenant(runtime).company.id
    other_id = make_user(runtime, company_id, ident.Identifier(ident.EMAIL, "o@example.com"))
    make_user(runtime, company_id, PHONE)
    with runtime.db.transaction() as session:
        for value in (PHONE.value, "o.old@example.com"):
            session.add(
                UserMerge(
                    company_id=company_id,
                    survivor_id=other_id,
                    merged_user_id=987654,
                    identifiers=[{"kind": "phone", "name": "", "value": value}],
                    merged_at=runtime.clock.now(),
                )
            )

    report = erase(runtime, company_id, PHONE)

    assert report.deleted["user_merges"] == 1
    with runtime.db.transaction() as session:
        (kept,) = session.scalars(select(UserMerge)).all()
    assert kept.identifiers[0]["value"] == "o.old@example.com"


def message_row(runtime: Runtime, company_id: int, user_id: int) -> dict[str, Any]:
    """A sent welcome email's row, but for its `address`."""
    return {
        "company_id": company_id,
        "user_id": user_id,
        "direction": "outbound",
        "channel": "EMAIL",
        "type": "WELCOME",
        "language": "en",
        "body": "Hi",
        "status": "sent",
        "attempts": 1,
        "created_at": runtime.clock.now(),
    }


def test_messages_to_the_subjects_addresses_are_deleted_whoever_they_belong_to(
    runtime: Runtime,
) -> None:
    messages = Base.metadata.tables["messages"]
    company_id = make_tenant(runtime).company.id
    other_id = make_user(runtime, company_id, ident.Identifier(ident.EMAIL, "o@example.com"))
    make_user(runtime, company_id, PHONE, EMAIL)
    row = message_row(runtime, company_id, other_id)
    with runtime.db.transaction() as session:
        session.execute(
            insert(messages),
            [{**row, "address": "SUBJECT@example.com"}, {**row, "address": "o@example.com"}],
        )

    erase(runtime, company_id, PHONE)

    with runtime.db.transaction() as session:
        left = session.scalars(select(messages.c.address)).all()
    assert left == ["o@example.com"]


def test_an_erased_messages_id_is_never_given_to_a_later_message(runtime: Runtime) -> None:
    # Message ids are public (webhook payloads, Message-ID headers) and name the message in its
    # send job: SQLite would hand the erased newest message's id to the next one.
    messages = Base.metadata.tables["messages"]
    company_id = make_tenant(runtime).company.id
    subject_id = make_user(runtime, company_id, PHONE, EMAIL)
    other_id = make_user(runtime, company_id, ident.Identifier(ident.EMAIL, "o@example.com"))
    row = message_row(runtime, company_id, subject_id)
    with runtime.db.transaction() as session:
        session.execute(insert(messages), [{**row, "address": "s@e.com"}])
        erased_id = session.scalar(select(func.max(messages.c.id)))

    erase(runtime, company_id, PHONE)
    with runtime.db.transaction() as session:
        session.execute(
            insert(messages), [{**row, "user_id": other_id, "address": "o@example.com"}]
        )
        (later_id,) = session.scalars(select(messages.c.id)).all()

    assert later_id > erased_id


def test_attempt_answers_quoting_the_subject_are_cleared(runtime: Runtime) -> None:
    company_id = make_tenant(runtime).company.id
    webhook(runtime, company_id)
    other_id = make_user(runtime, company_id, ident.Identifier(ident.EMAIL, "o@example.com"))
    make_user(runtime, company_id, PHONE)
    emit(runtime, company_id, other_id, None)
    with runtime.db.transaction() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        for number, answer in enumerate((f"saw {PHONE.value}", "ok")):
            session.add(
                WebhookAttempt(
                    company_id=company_id,
                    delivery_id=delivery.id,
                    number=number + 1,
                    attempted_at=runtime.clock.now(),
                    succeeded=False,
                    status_code=500,
                    latency_ms=1.0,
                    error=None,
                    response_body=answer,
                )
            )

    report = erase(runtime, company_id, PHONE)

    assert report.scrubbed["webhook_attempts.response_body"] == 1
    with runtime.db.transaction() as session:
        answers = session.scalars(select(WebhookAttempt.response_body).order_by("number")).all()
    assert answers == [None, "ok"]


async def test_a_delivery_being_sent_makes_the_job_retry_later(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    runtime: Runtime,
    clock: FrozenClock,
    run_jobs: Callable[[], int],
) -> None:
    with runtime.db.transaction() as session:
        dev = oauth_repository.development_company(session)
        assert dev is not None
    webhook(runtime, dev.id)
    user_id = make_user(runtime, dev.id, PHONE)
    emit(runtime, dev.id, user_id, PHONE.value)
    with runtime.db.transaction() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        delivery.state, delivery.locked_until = "sending", clock.now() + timedelta(seconds=30)
    made = await client.post(PATH, json={"subjectPhone": PHONE.value}, headers=dev_headers)

    assert run_jobs() == 1
    with runtime.db.transaction() as session:
        job = session.scalars(select(Job).where(Job.kind == "privacy.delete")).one()
        assert job.state == "queued" and "being sent" in (job.last_error or "")
    assert count(runtime, User, User.id == user_id) == 1

    with runtime.db.transaction() as session:
        session.scalars(select(WebhookDelivery)).one().state = "succeeded"
    clock.advance(timedelta(hours=2))
    assert run_jobs() == 1
    got = await client.get(f"{PATH}/{made.json()['id']}", headers=dev_headers)
    assert got.json()["processed"] is True
    assert count(runtime, User, User.id == user_id) == 0
    assert count(runtime, WebhookDelivery) == 0


def test_tables_are_covered_through_foreign_keys_or_named_when_not() -> None:
    metadata = MetaData()
    users = Table("users", metadata, Column("id", Integer, primary_key=True))
    child = Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", ForeignKey("users.id")),
    )
    Table(
        "note_tags",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("note_id", ForeignKey("notes.id")),
    )
    Table("audit_log", metadata, Column("id", Integer, primary_key=True))
    tables = list(metadata.sorted_tables)

    assert set(erasure.user_linked_tables(tables)) == {"users", "notes", "note_tags"}
    assert erasure.uncovered_tables(tables) == ["audit_log"]
    assert users is not None and child is not None


def test_erasure_refuses_to_run_while_a_table_is_uncovered(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    company_id = make_tenant(runtime).company.id
    user_id = make_user(runtime, company_id, PHONE)
    monkeypatch.setitem(erasure.NO_SUBJECT_DATA, "nothing", "")
    monkeypatch.delitem(erasure.NO_SUBJECT_DATA, "webhooks")

    with pytest.raises(erasure.ErasureRefused, match="not covered by privacy deletion: webhooks"):
        erase(runtime, company_id, PHONE)
    assert count(runtime, User, User.id == user_id) == 1


def test_declared_cascades_are_enforced_by_the_database(runtime: Runtime) -> None:
    """Erasure deletes children itself, but ON DELETE CASCADE must also hold on both databases:
    every declared cascade is in the real schema, and one is exercised."""
    for table in Base.metadata.sorted_tables:
        real = real_foreign_keys(runtime.db.engine, table.name)
        for constraint in table.foreign_key_constraints:
            key = (tuple(c.name for c in constraint.columns), constraint.referred_table.name)
            assert key in real, (table.name, key)
            declared = (constraint.ondelete or "").upper()
            assert real[key] == declared, (table.name, key, real[key], declared)

    company_id = make_tenant(runtime).company.id
    webhook(runtime, company_id)
    emit(runtime, company_id, make_user(runtime, company_id, PHONE), PHONE.value)
    with runtime.db.transaction() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        session.add(
            WebhookAttempt(
                company_id=company_id,
                delivery_id=delivery.id,
                number=1,
                attempted_at=runtime.clock.now(),
                succeeded=True,
                status_code=200,
                latency_ms=1.0,
            )
        )
    with runtime.db.transaction() as session:
        session.execute(WebhookDelivery.__table__.delete())  # type: ignore[arg-type]
    assert count(runtime, WebhookAttempt) == 0


async def test_identifiers_are_never_logged(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    run_jobs: Callable[[], int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"subjectPhone": "3115552368", "subjectEmail": "Secret.Person@example.com"}
    await client.post(PATH, json=body, headers=dev_headers)
    await client.post(PATH, json={**body, "subjectEmail": "Secret.Person@"}, headers=dev_headers)
    run_jobs()

    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records).lower()
    assert caplog.records
    assert "3115552368" not in text and "secret.person" not in text


def test_delivery_and_job_errors_quoting_the_subject_are_cleared(runtime: Runtime) -> None:
    company_id = make_tenant(runtime).company.id
    webhook(runtime, company_id)
    other_id = make_user(runtime, company_id, ident.Identifier(ident.EMAIL, "o@example.com"))
    make_user(runtime, company_id, PHONE)
    emit(runtime, company_id, other_id, None)
    emit(runtime, company_id, other_id, None)
    quoted = f"IntegrityError: duplicate value {PHONE.value.upper()}"
    with runtime.db.transaction() as session:
        first, second = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        first.last_error, second.last_error = quoted, "HTTP 500"
        for error in (quoted, "timed out"):
            enqueue(
                session, runtime.clock, "test.other", {"n": 1}, company_id=company_id
            ).last_error = error

    report = erase(runtime, company_id, PHONE)

    assert report.scrubbed["webhook_deliveries.last_error"] == 1
    assert report.scrubbed["jobs.last_error"] == 1
    with runtime.db.transaction() as session:
        errors = session.scalars(select(WebhookDelivery.last_error).order_by("id")).all()
        job_errors = session.scalars(select(Job.last_error).order_by("id")).all()
    assert errors == [None, "HTTP 500"]
    assert job_errors == [None, "timed out"]
