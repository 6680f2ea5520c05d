"""A populated world for the erasure tests, and a scanner that reads every row of every table.

`SUBJECT` has data in every table that can hold subscriber data (through the real API where
there is one); `OTHER` is another user of the same company; `ELSEWHERE` is a company whose user
has the subject's very phone and email. `SEEDERS` say which table each step fills: a table of
`Base.metadata` that holds subscriber data and has no seeder fails the completeness test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from heedful.core.clock import FrozenClock
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.jobs.queue import enqueue
from heedful.runtime import Runtime
from heedful.storage.models import Base
from heedful.webhooks import service as webhooks
from heedful.webhooks.dispatcher import Dispatcher
from tests.factories import Tenant
from tests.webhooks.receiver import Receiver, make_dispatcher

SUBJECT_PHONE = "+13115552368"
SUBJECT_EMAIL = "subject.person@example.com"
SUBJECT_ALT_EMAIL = "s.alt@example.com"  # a user later merged into the subject
SUBJECT_CLIENT_ID = "subject-cuid-77"
OTHER_PHONE = "+13115550000"
OTHER_EMAIL = "other.person@example.com"

# Keys under which stored JSON names a user by id.
USER_ID_KEYS = {"user_id", "userId", "external_id", "externalId", "survivor_id", "merged_user_id"}


@dataclass
class Person:
    phone: str
    emails: list[str]
    client_user_id: str | None = None
    user_ids: set[int] = field(default_factory=set)

    @property
    def strings(self) -> list[str]:
        """What must not appear in any row: E.164 phone, national form, emails, client id."""
        found = [self.phone, self.phone.removeprefix("+1"), *self.emails]
        return found + ([self.client_user_id] if self.client_user_id else [])


@dataclass
class World:
    company_id: int
    elsewhere_company_id: int
    subject: Person
    other: Person
    twin: Person  # the subject's phone and email in the other company
    seeded: set[str] = field(default_factory=set)


def dispatcher(runtime: Runtime) -> Dispatcher:
    return make_dispatcher(runtime)


async def post(client: httpx.AsyncClient, tenant: Tenant, path: str, body: Any) -> None:
    response = await client.post(f"/v1{path}", json=body, headers=tenant.headers)
    assert response.status_code in (200, 202), (path, response.text)


async def activity(
    client: httpx.AsyncClient, tenant: Tenant, user: dict[str, str], tag: str
) -> None:
    """An event and an attribute (the attribute emits custom_attribute.set)."""
    await post(
        client,
        tenant,
        "/events/custom",
        {"type": "Order Shipped", "properties": {"note": f"{tag} for {user}"}, "user": user},
    )
    await post(client, tenant, "/attributes/custom", {"properties": {tag: "yes"}, "user": user})


def user_of(runtime: Runtime, company_id: int, phone: str) -> int:
    with runtime.db.transaction() as session:
        found = identity.find_user(session, company_id, ident.phone(phone, "phone"))
    assert found is not None
    return found


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def insert_rows(session: Session, name: str, rows: list[dict[str, Any]]) -> None:
    session.execute(insert(table(name)), rows)


def subscription_rows(
    runtime: Runtime, company_id: int, user_id: int, phone: str, email: str
) -> None:
    """Subscriptions, consent records and messages (inserted directly: any version of the
    subscriptions/messaging areas is covered, whatever their services do today)."""
    now = runtime.clock.now()
    tables = Base.metadata.tables
    with runtime.db.transaction() as session:
        if "subscriptions" in tables:
            sub_id = session.execute(
                insert(table("subscriptions"))
                .values(
                    company_id=company_id,
                    user_id=user_id,
                    type="MARKETING",
                    channel="TEXT",
                    status="subscribed",
                    language="en",
                    created_at=now,
                    updated_at=now,
                )
                .returning(table("subscriptions").c.id)
            ).scalar_one()
            if "consent_records" in tables:
                insert_rows(
                    session,
                    "consent_records",
                    [
                        {
                            "company_id": company_id,
                            "user_id": user_id,
                            "subscription_id": sub_id,
                            "action": "opted_in",
                            "channel_source": "api",
                            "occurred_at": now,
                        }
                    ],
                )
        if "messages" in tables:
            base = {
                "company_id": company_id,
                "user_id": user_id,
                "direction": "outbound",
                "type": "WELCOME",
                "language": "en",
                "status": "sent",
                "attempts": 1,
                "created_at": now,
            }
            insert_rows(
                session,
                "messages",
                [
                    {**base, "channel": "TEXT", "address": phone, "body": f"Hi {phone}"},
                    {**base, "channel": "EMAIL", "address": email, "body": "Welcome"},
                ],
            )


def jobs_about(runtime: Runtime, company_id: int, person: Person) -> None:
    """Future jobs naming the person by user id, by phone and by email (any case)."""
    user_id = min(person.user_ids)
    payloads: list[dict[str, Any]] = [
        {"user_id": user_id},
        {"message": {"to": person.phone, "body": "hello"}},
        {"note": f"mail {person.emails[0].upper()} soon"},
        {"recipients": [{"externalId": str(user_id)}]},
    ]
    with runtime.db.transaction() as session:
        for payload in payloads:
            enqueue(
                session,
                runtime.clock,
                "test.later",
                payload,
                company_id=company_id,
                delay=timedelta(days=1),
            )


SEEDERS: dict[str, str] = {
    # table: what puts the subject's data there (the steps in `build`)
    "users": "events and identify through the API",
    "user_identifiers": "events and identify through the API",
    "user_merges": "identify bridging the subject and a second user",
    "user_attributes": "POST /v1/attributes/custom",
    "events": "POST /v1/events/custom",
    "webhook_deliveries": "custom_attribute.set to two webhooks (one sent, one pending)",
    "webhook_attempts": "a real receiver on 127.0.0.1 echoing the phone in its answer",
    "jobs": "future jobs naming the subject by id, phone and email",
    "privacy_requests": "the delete request itself (before processing)",
    "subscriptions": "inserted rows",
    "consent_records": "inserted rows",
    "messages": "inserted rows, to the phone and to the email",
}


async def build(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FrozenClock,
    tenant: Tenant,
    elsewhere: Tenant,
    receiver: Receiver,
) -> World:
    company_id, elsewhere_id = tenant.company.id, elsewhere.company.id
    subject = Person(SUBJECT_PHONE, [SUBJECT_EMAIL, SUBJECT_ALT_EMAIL], SUBJECT_CLIENT_ID)
    other = Person(OTHER_PHONE, [OTHER_EMAIL])
    twin = Person(SUBJECT_PHONE, [SUBJECT_EMAIL])
    receiver.response_body = json.dumps({"received": SUBJECT_PHONE}).encode()
    with runtime.db.transaction() as session:
        for cid in (company_id, elsewhere_id):
            webhooks.create_webhook(
                session, clock, cid, receiver.url(), ["custom_attribute.set"], development=True
            )

    # The subject: phone + email (mixed case), then a second user, then identify bridges them.
    subject_user = {"phone": SUBJECT_PHONE, "email": "Subject.Person@Example.com"}
    await activity(client, tenant, subject_user, "first")
    # The others exist before the merge: SQLite would give them the merged user's id
    # otherwise (test_erasure covers that case on its own).
    for person, who, company in (
        (other, {"phone": OTHER_PHONE, "email": OTHER_EMAIL}, tenant),
        (twin, subject_user, elsewhere),
    ):
        await activity(client, company, who, "first")
        person.user_ids = {user_of(runtime, company.company.id, person.phone)}

    clock.advance(1)
    await activity(client, tenant, {"email": SUBJECT_ALT_EMAIL}, "second")
    merged_id = None
    with runtime.db.transaction() as session:
        merged_id = identity.find_user(session, company_id, ident.email(SUBJECT_ALT_EMAIL, "e"))
    await post(
        client,
        tenant,
        "/identity-resolution/user-identifiers",
        {"phone": SUBJECT_PHONE, "email": SUBJECT_ALT_EMAIL, "clientUserId": SUBJECT_CLIENT_ID},
    )
    assert merged_id is not None
    subject.user_ids = {user_of(runtime, company_id, SUBJECT_PHONE), merged_id}
    assert len(subject.user_ids) == 2

    # Deliveries so far are sent (attempts record the receiver's answer quoting the phone) ...
    assert await anyio.to_thread.run_sync(dispatcher(runtime).run_until_idle) > 0
    # ... then a webhook nobody answers and more activity: pending deliveries.
    with runtime.db.transaction() as session:
        webhooks.create_webhook(
            session,
            clock,
            company_id,
            "http://127.0.0.1:9/closed",
            ["custom_attribute.set"],
            development=True,
        )
    await activity(client, tenant, subject_user, "later")
    await activity(client, tenant, {"phone": OTHER_PHONE}, "later")

    for person, cid in ((subject, company_id), (other, company_id), (twin, elsewhere_id)):
        user_id = user_of(runtime, cid, person.phone)
        subscription_rows(runtime, cid, user_id, person.phone, person.emails[0])
        jobs_about(runtime, cid, person)
    return World(company_id, elsewhere_id, subject, other, twin)


# --- reading every row ---------------------------------------------------------------------


Row = dict[str, Any]


def all_rows(runtime: Runtime) -> dict[str, list[Row]]:
    with runtime.db.transaction() as session:
        return {
            t.name: [dict(row._mapping) for row in session.execute(select(t))]
            for t in Base.metadata.sorted_tables
        }


def in_company(row: Row, company_id: int, name: str) -> bool:
    """Rows of `company_id`; the companies table by its id; tables without a company: all."""
    if name == "companies":
        return bool(row["id"] == company_id)
    return "company_id" not in row or row["company_id"] in (company_id, None)


def mentions(name: str, row: Row, person: Person) -> list[str]:
    """Why `row` of table `name` names `person` (empty: it does not)."""
    found: list[str] = []
    user_columns = _user_columns(table(name))
    for column, value in row.items():
        if column in user_columns and value in person.user_ids:
            found.append(f"{name}.{column} = user {value}")
        text = json.dumps(value, default=str) if not isinstance(value, str) else value
        for needle in person.strings:
            if needle.lower() in text.lower():
                found.append(f"{name}.{column} contains {needle!r}")
        for key, item in _json_items(value):
            if key in USER_ID_KEYS and str(item) in {str(u) for u in person.user_ids}:
                found.append(f"{name}.{column} has {key} = {item}")
    return found


def _user_columns(t: Table) -> set[str]:
    named = {c.name for c in t.columns if c.name.endswith("user_id") or c.name == "survivor_id"}
    linked = {
        c.name for c in t.columns if any(fk.column.table.name == "users" for fk in c.foreign_keys)
    }
    if t.name == "users":
        named.add("id")
    return named | linked


def _json_items(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            value = json.loads(value)
        except ValueError:
            return
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _json_items(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_items(item)


def scan(
    rows: dict[str, list[Row]], company_id: int, person: Person, where: Callable[[str], bool]
) -> dict[str, list[str]]:
    """table -> reasons, for the company's rows (of tables `where` selects) naming `person`."""
    found: dict[str, list[str]] = {}
    for name, table_rows in rows.items():
        if not where(name):
            continue
        for row in table_rows:
            if in_company(row, company_id, name):
                reasons = mentions(name, row, person)
                if reasons:
                    found.setdefault(name, []).extend(reasons)
    return found
