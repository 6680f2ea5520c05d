"""Erasure: remove every trace of a subject from one company's data, provably.

Every table in `Base.metadata` is covered in one of three ways, and `uncovered_tables()` names
any that is not (erasure then refuses to run, and the privacy tests fail, naming the table):

1. **Linked by foreign key.** The users the subject's identifiers name are deleted together
   with every row that references them, found by walking the foreign keys in the metadata:
   the tables that reference `users.id`, then the tables that reference those, and so on
   (identifiers, attributes, events, merges, subscriptions, consent records, messages, and
   whatever a later area adds with a foreign key). Rows are deleted explicitly, children
   first, so nothing depends on `ON DELETE CASCADE` being enforced; `SET NULL` references are
   set to null.
2. **Scrubbed.** Copies of personal data that no foreign key leads to each have a scrubber
   here: webhook delivery bodies about the subject (deleted with their attempts), attempt
   responses and errors, delivery and job errors that quote the subject (cleared), jobs whose
   payload names the subject (deleted), merge records that hold the subject's former ids or
   identifiers (deleted), rows whose address column is one of the subject's addresses
   (`messages.address`: deleted), and the privacy requests themselves (raw identifiers
   cleared when processed; see `service`).
3. **No subscriber data.** Tenants, credentials, configuration and catalog tables.

"About the subject" means: a user id of the subject (the users found, plus the ids they
absorbed by merges) under a user-id key, or the subject's phone or email anywhere in the text
(case-insensitive), or another identifier value of theirs as a whole string value.
Only the request's company is touched; jobs without a company are left alone.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    ForeignKeyConstraint,
    Table,
    Text,
    and_,
    delete,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.orm import Session

from heedful.core.numbers import parse_digits
from heedful.identity import repository as identity_repository
from heedful.identity import service as identity
from heedful.identity.identifiers import CLIENT_USER_ID, EMAIL, PHONE, Identifier
from heedful.jobs.registry import RetryLater
from heedful.storage.models import Base

USERS = "users"
BATCH = 500

NO_SUBJECT_DATA: dict[str, str] = {
    "companies": "tenants",
    "applications": "apps of a company",
    "access_tokens": "API keys and OAuth tokens (hashed)",
    "installations": "app installs",
    "authorization_codes": "OAuth codes (hashed)",
    "signup_sources": "sign-up source configuration",
    "attribute_definitions": "attribute names and types of a company",
    "webhooks": "webhook configuration",
    "catalog_uploads": "product catalog uploads",
    "catalog_products": "product catalog",
    "catalog_variants": "product catalog",
    "message_templates": "a company's message wording",
}

SCRUBBED: dict[str, str] = {
    "webhook_deliveries": "deliveries whose body is about the subject are deleted; errors "
    "quoting the subject are cleared",
    "webhook_attempts": "attempts of those deliveries are deleted; responses and errors quoting "
    "the subject are cleared",
    "jobs": "jobs whose payload names the subject are deleted; errors quoting the subject are "
    "cleared",
    "user_merges": "merge records holding the subject's ids or identifiers are deleted",
    "privacy_requests": "raw identifiers are cleared when processed; masks and keyed hashes stay",
    "messages": "messages to or from the subject's phone or email are deleted",
}

# Columns holding a phone or an email as a whole value: rows naming the subject are deleted.
ADDRESS_COLUMNS: tuple[tuple[str, str], ...] = (("messages", "address"),)

# Free texts (a receiver's answer, an error) that may quote a phone or an email: cleared when
# they quote the subject's, in rows kept because they are not about the subject.
QUOTING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("webhook_attempts", "response_body"),
    ("webhook_attempts", "error"),
    ("webhook_deliveries", "last_error"),
    ("jobs", "last_error"),
)

# JSON keys under which a payload names a user by id.
USER_ID_KEYS = frozenset(
    {"user_id", "userId", "external_id", "externalId", "survivor_id", "merged_user_id"}
)


class ErasureRefused(Exception):
    """Erasure cannot be complete (a table nobody covers); nothing was deleted."""


class SubjectBusy(RetryLater):
    """A delivery about the subject is being sent right now; try again once it is recorded.
    Not a failure: the wait can outlast the job's retries (a crashed dispatcher's lease)."""


def user_linked_tables(tables: Iterable[Table] | None = None) -> dict[str, Table]:
    """`users` and every table that references it, directly or through another such table."""
    all_tables = {t.name: t for t in (tables or Base.metadata.sorted_tables)}
    linked = {USERS: all_tables[USERS]}
    changed = True
    while changed:
        changed = False
        for table in all_tables.values():
            if table.name in linked:
                continue
            if any(fk.referred_table.name in linked for fk in _fk_constraints(table)):
                linked[table.name] = table
                changed = True
    return linked


def coverage(tables: Iterable[Table] | None = None) -> dict[str, str]:
    """How each table is covered (see the module doc); uncovered tables are absent."""
    tables = list(tables or Base.metadata.sorted_tables)
    linked = user_linked_tables(tables)
    found: dict[str, list[str]] = {}
    for table in tables:
        if table.name in linked:
            found.setdefault(table.name, []).append("deleted with the user (foreign key)")
        if table.name in SCRUBBED:
            found.setdefault(table.name, []).append(f"scrubbed: {SCRUBBED[table.name]}")
        if table.name in NO_SUBJECT_DATA:
            found.setdefault(table.name, []).append(
                f"no subscriber data: {NO_SUBJECT_DATA[table.name]}"
            )
    return {name: "; ".join(ways) for name, ways in found.items()}


def uncovered_tables(tables: Iterable[Table] | None = None) -> list[str]:
    tables = list(tables or Base.metadata.sorted_tables)
    covered = coverage(tables)
    return sorted(t.name for t in tables if t.name not in covered)


@dataclass
class Traces:
    """What identifies the subject in one company."""

    company_id: int
    # The users found (deleted with everything referencing them).
    user_ids: set[int]
    # Phones and emails, lowercased: found anywhere in a text.
    addresses: set[str]
    # Other identifier values (client user ids, custom ids...): found as whole string values.
    values: set[str]
    # Ids the subject's users absorbed by merges, each with the moment from which the id names
    # someone else (SQLite may give a deleted user's id to a new user), or None.
    former: dict[int, datetime | None] = field(default_factory=dict)
    # The merge records that folded those ids into the subject.
    merge_ids: set[int] = field(default_factory=set)

    @property
    def all_user_ids(self) -> set[int]:
        return self.user_ids | set(self.former)

    def names_user(self, user_id: int | None, written_at: datetime | None) -> bool:
        """Whether a reference to `user_id`, written at `written_at`, meant the subject."""
        if user_id is None:
            return False
        if user_id in self.user_ids:
            return True
        if user_id not in self.former:
            return False
        reused_at = self.former[user_id]
        return reused_at is None or (written_at is not None and written_at < reused_at)

    def mentioned_in(self, data: Any, written_at: datetime | None = None) -> bool:
        """Whether a JSON value names the subject (by user id key, address or value)."""
        if isinstance(data, dict):
            for key, value in data.items():
                if key in USER_ID_KEYS and self.names_user(_as_int(value), written_at):
                    return True
                if self.mentioned_in(value, written_at):
                    return True
            return False
        if isinstance(data, list):
            return any(self.mentioned_in(item, written_at) for item in data)
        if isinstance(data, str):
            return data in self.values or self.quotes(data)
        return False

    def quotes(self, text: str | None) -> bool:
        """Whether a text contains the subject's phone or email (any case)."""
        if not text:
            return False
        lowered = text.lower()
        return any(address in lowered for address in self.addresses)

    def text_mentions(self, text: str | None, written_at: datetime | None = None) -> bool:
        """A stored text (JSON or not) that names the subject."""
        if not text:
            return False
        try:
            parsed = json.loads(text)
        except ValueError:
            return self.quotes(text) or text in self.values
        return self.mentioned_in(parsed, written_at) or self.quotes(text)

    def prefilter(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """A cheap SQL superset of the rows whose text `column` may name the subject."""
        text = func.lower(sql_cast(column, Text))
        needles = {*self.addresses, *(v.lower() for v in self.values)}
        needles |= {str(user_id) for user_id in self.all_user_ids}
        return or_(*(text.contains(needle, autoescape=True) for needle in sorted(needles)))


@dataclass
class Report:
    """What one erasure removed: users, rows per table, and rows scrubbed per table."""

    users: int = 0
    deleted: Counter[str] = field(default_factory=Counter)
    scrubbed: Counter[str] = field(default_factory=Counter)
    # The subject's identifiers as found, for redacting texts (never stored as such): phones,
    # emails, and every other value (client user ids, Shopify, Klaviyo and custom ids).
    identifiers: tuple[Identifier, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "deleted": dict(sorted((k, v) for k, v in self.deleted.items() if v)),
            "scrubbed": dict(sorted((k, v) for k, v in self.scrubbed.items() if v)),
        }


def erase(
    session: Session,
    now: datetime,
    company_id: int,
    identifiers: Iterable[Identifier],
    *,
    keep_job_id: int | None = None,
) -> Report:
    """Delete every user of `company_id` named by `identifiers` and every trace of them."""
    missing = uncovered_tables()
    if missing:
        raise ErasureRefused(
            f"tables not covered by privacy deletion: {', '.join(missing)} "
            "(see heedful.privacy.erasure)"
        )
    given = list(dict.fromkeys(identifiers))
    users = _lock_subject_users(session, company_id, given)
    traces = _traces(session, company_id, users, given)
    found = [Identifier(EMAIL if "@" in a else PHONE, a) for a in sorted(traces.addresses)]
    found += [Identifier(CLIENT_USER_ID, v) for v in sorted(traces.values)]
    report = Report(identifiers=tuple(found))
    if not traces.addresses and not traces.values and not traces.all_user_ids:
        return report
    tables = Base.metadata.tables
    # The users' rows go first: each deleted row stays locked until the erasure commits, so a
    # request changing one of them (an attribute update, which has no foreign key to check)
    # waits, and one that changed it just before has committed (this delete waited for it),
    # so the scrubs below, each a statement begun later, see what it wrote (a webhook
    # delivery about the subject, say).
    if users:
        table = tables[USERS]
        where = and_(table.c.company_id == company_id, table.c.id.in_(users))
        report.users = delete_tree(session, company_id, table, where, report.deleted)
    _scrub_deliveries(session, now, traces, report)
    _scrub_jobs(session, traces, report, keep_job_id)
    _scrub_quotes(session, traces, report)
    _scrub_merges(session, traces, report)
    for table_name, column_name in ADDRESS_COLUMNS:
        if table_name in tables:
            _scrub_addresses(session, tables[table_name], column_name, traces, report)
    return report


LOCK_ATTEMPTS = 10


def _lock_subject_users(session: Session, company_id: int, given: list[Identifier]) -> list[int]:
    """The users `given` names, row-locked. A merge holding one of them when the lock was
    asked for may have folded it into another user (who now holds the subject's identifiers):
    the identifiers are looked up again until the users they name are the ones locked."""
    owners = identity.lock_owners(session, company_id, given, LOCK_ATTEMPTS)
    if owners is None:
        raise SubjectBusy("the subject's users kept being merged while the erasure locked them")
    return sorted(set(owners.values()))


def _traces(session: Session, company_id: int, users: list[int], given: list[Identifier]) -> Traces:
    merges = [
        m for user in users for m in identity_repository.merges_into(session, company_id, user)
    ]
    known = list(given)
    for user in users:
        known += identity.identifiers_of(session, company_id, user)
    for merge in merges:
        known += [Identifier(i["kind"], i["value"], i.get("name", "")) for i in merge.identifiers]
    addresses = {i.value.lower() for i in known if i.kind in (PHONE, EMAIL)}
    values = {i.value for i in known if i.kind not in (PHONE, EMAIL)}
    former: dict[int, datetime | None] = {}
    for merge in merges:
        if merge.merged_user_id in users:
            continue
        # A live user holding a former id got it after the merge (SQLite reuses the highest
        # deleted id): references written from its creation on are about that user.
        former[merge.merged_user_id] = identity_repository.user_created_at(
            session, company_id, merge.merged_user_id
        )
    merge_ids = {merge.id for merge in merges}
    return Traces(company_id, set(users), addresses, values, former, merge_ids)


def delete_tree(
    session: Session,
    company_id: int,
    table: Table,
    where: ColumnElement[bool],
    counts: Counter[str],
    path: tuple[str, ...] = (),
) -> int:
    """Delete `table` rows matching `where` and, first, every row referencing them."""
    if table.name in path:
        raise ErasureRefused(f"foreign keys form a cycle through {table.name}")
    for child, constraint in _referencing(table):
        if len(constraint.elements) != 1:
            raise ErasureRefused(f"{child.name}: composite foreign keys are not supported")
        element = constraint.elements[0]
        parent_column = element.column
        child_where: ColumnElement[bool] = element.parent.in_(select(parent_column).where(where))
        if "company_id" in child.c:
            child_where = and_(child.c.company_id == company_id, child_where)
        if (constraint.ondelete or "").upper() == "SET NULL":
            stmt = update(child).where(child_where).values({element.parent.name: None})
            counts[f"{child.name}.{element.parent.name} set null"] += _rowcount(session, stmt)
        else:
            delete_tree(session, company_id, child, child_where, counts, (*path, table.name))
    removed = _rowcount(session, delete(table).where(where))
    counts[table.name] += removed
    return removed


def _referencing(table: Table) -> Iterator[tuple[Table, ForeignKeyConstraint]]:
    for child in Base.metadata.sorted_tables:
        for constraint in _fk_constraints(child):
            if constraint.referred_table is table:
                yield child, constraint


def _fk_constraints(table: Table) -> list[ForeignKeyConstraint]:
    return [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]


def _rowcount(session: Session, stmt: Any) -> int:
    return int(cast(CursorResult[Any], session.execute(stmt)).rowcount or 0)


def _company_rows(
    session: Session, table: Table, column: str, traces: Traces, written: str | None = None
) -> Iterator[tuple[int, Any, datetime | None]]:
    """(id, value, written at) of the company's rows whose `column` may name the subject
    (prefiltered in SQL); `written` names the column telling when the row was written."""
    moment: ColumnElement[Any] = table.c[written] if written else null()
    stmt = (
        select(table.c.id, table.c[column], moment)
        .where(table.c.company_id == traces.company_id, traces.prefilter(table.c[column]))
        .order_by(table.c.id)
        .execution_options(yield_per=BATCH)
    )
    yield from ((row[0], row[1], row[2]) for row in session.execute(stmt))


def _scrub_deliveries(session: Session, now: datetime, traces: Traces, report: Report) -> None:
    table = Base.metadata.tables["webhook_deliveries"]
    rows = _company_rows(session, table, "body", traces, "created_at")
    ids = [i for i, body, at in rows if traces.text_mentions(body, at)]
    for chunk in _chunks(ids):
        busy = select(table.c.id).where(
            table.c.id.in_(chunk), table.c.state == "sending", table.c.locked_until > now
        )
        if session.execute(busy.limit(1)).first() is not None:
            raise SubjectBusy("a webhook delivery about the subject is being sent")
        where = and_(table.c.company_id == traces.company_id, table.c.id.in_(chunk))
        delete_tree(session, traces.company_id, table, where, report.deleted)


def _scrub_quotes(session: Session, traces: Traces, report: Report) -> None:
    """Clear the texts (answers, errors) of rows kept because they are not about the subject
    but that quote the subject's phone or email."""
    for table_name, column in QUOTING_COLUMNS:
        table = Base.metadata.tables[table_name]
        ids = [
            i for i, text, _ in _company_rows(session, table, column, traces) if traces.quotes(text)
        ]
        for chunk in _chunks(ids):
            stmt = update(table).where(table.c.id.in_(chunk)).values({column: None})
            report.scrubbed[f"{table_name}.{column}"] += _rowcount(session, stmt)


def _scrub_jobs(session: Session, traces: Traces, report: Report, keep_job_id: int | None) -> None:
    table = Base.metadata.tables["jobs"]
    ids = [
        i
        for i, payload, at in _company_rows(session, table, "payload", traces, "created_at")
        if i != keep_job_id and traces.mentioned_in(payload, at)
    ]
    for chunk in _chunks(ids):
        stmt = delete(table).where(table.c.company_id == traces.company_id, table.c.id.in_(chunk))
        report.deleted["jobs"] += _rowcount(session, stmt)


def _scrub_merges(session: Session, traces: Traces, report: Report) -> None:
    table = Base.metadata.tables["user_merges"]
    ids = [
        i
        for i, snapshot, at in _company_rows(session, table, "identifiers", traces, "merged_at")
        if traces.mentioned_in(snapshot, at)
    ]
    by_id = or_(
        table.c.id.in_(traces.merge_ids),
        table.c.merged_user_id.in_(traces.user_ids),
        table.c.survivor_id.in_(traces.user_ids),
    )
    stmt = select(table.c.id).where(table.c.company_id == traces.company_id, by_id)
    ids = sorted({*ids, *session.scalars(stmt)})
    for chunk in _chunks(ids):
        stmt2 = delete(table).where(table.c.company_id == traces.company_id, table.c.id.in_(chunk))
        report.deleted["user_merges"] += _rowcount(session, stmt2)


def _scrub_addresses(
    session: Session, table: Table, column: str, traces: Traces, report: Report
) -> None:
    if not traces.addresses:
        return
    where = and_(
        table.c.company_id == traces.company_id,
        func.lower(table.c[column]).in_(sorted(traces.addresses)),
    )
    delete_tree(session, traces.company_id, table, where, report.deleted)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_digits(value)
    return None


__all__ = [
    "NO_SUBJECT_DATA",
    "SCRUBBED",
    "ErasureRefused",
    "Report",
    "SubjectBusy",
    "Traces",
    "coverage",
    "erase",
    "uncovered_tables",
]
