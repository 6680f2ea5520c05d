"""Every query on events; each filters by company_id."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heedful.storage.db import driver_error
from heedful.storage.models.events import Event

_json = msgspec.json.Encoder()


def stored_external_ids(session: Session, company_id: int, candidates: Iterable[str]) -> set[str]:
    wanted = sorted(set(candidates))
    if not wanted:
        return set()
    stmt = select(Event.external_event_id).where(
        Event.company_id == company_id, Event.external_event_id.in_(wanted)
    )
    return {value for value in session.scalars(stmt) if value is not None}


# The columns a new event is written with, in the order `insert_events` expects its rows.
INSERT_COLUMNS = (
    "company_id",
    "user_id",
    "kind",
    "type",
    "properties",
    "items",
    "external_event_id",
    "occurred_at",
    "received_at",
    "journey_eligible",
)
_JSON_COLUMNS = {"properties", "items"}


# Rows per INSERT statement (10 parameters each: well inside both databases' limits).
ROWS_PER_INSERT = 500


def _row_placeholders(dialect: str) -> str:
    if dialect == "postgresql":
        marks = ("CAST(%s AS json)" if c in _JSON_COLUMNS else "%s" for c in INSERT_COLUMNS)
    else:
        marks = ("?" for _ in INSERT_COLUMNS)
    return f"({', '.join(marks)})"


@functools.lru_cache(maxsize=64)
def _insert_sql(dialect: str, row_count: int) -> str:
    rows = ", ".join([_row_placeholders(dialect)] * row_count)
    return f"INSERT INTO events ({', '.join(INSERT_COLUMNS)}) VALUES {rows} ON CONFLICT DO NOTHING"


def insert_events(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """Multi-row inserts of rows already in the driver's terms (see `database_row`); a row
    whose externalEventId is already stored is skipped.

    Straight to the driver, one statement per ROWS_PER_INSERT rows: SQLAlchemy's per-row
    bind processing (JSON, datetimes) cost more than SQLite's own work for the insert, and an
    executemany runs one SQLite step per row, each of which gives the GIL up and waits to
    get it back from a busy event loop."""
    connection = session.connection()
    dialect = connection.dialect.name
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        parameters = tuple(value for row in chunk for value in row)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(_insert_sql(dialect, len(chunk)), parameters)
        except connection.dialect.loaded_dbapi.Error as exc:
            # A broken foreign key (a user erased meanwhile), a deadlock...: SQLAlchemy's
            # exception, which the group-commit writer retries the batch on.
            raise driver_error(connection, f"INSERT INTO events ({len(chunk)} rows)", exc) from exc
        finally:
            cursor.close()


def database_row(dialect: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """`values` (in INSERT_COLUMNS order) as the driver stores them, the way SQLAlchemy's
    column types would: JSON as text, and on SQLite datetimes as naive UTC text and the
    flag as an integer."""
    (company_id, user_id, kind, type_, properties, items, external_id, occurred_at,
     received_at, journey_eligible) = values  # fmt: skip
    properties, items = _json.encode(properties).decode(), _json.encode(items).decode()
    if dialect == "sqlite":
        received = sqlite_datetime(received_at)
        # Usually the same moment (occurredAt defaults to receipt): formatted once.
        occurred = received if occurred_at == received_at else sqlite_datetime(occurred_at)
        occurred_at, received_at, journey_eligible = occurred, received, int(journey_eligible)
    return (
        company_id, user_id, kind, type_, properties, items, external_id, occurred_at,
        received_at, journey_eligible,
    )  # fmt: skip


def sqlite_datetime(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores: naive UTC, always with microseconds
    (isoformat, then the offset cut off: twice as fast as strftime)."""
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def latest_for_user(
    session: Session, company_id: int, user_id: int, limit: int, kind: str | None = None
) -> Sequence[Event]:
    stmt = select(Event).where(Event.company_id == company_id, Event.user_id == user_id)
    if kind is not None:
        stmt = stmt.where(Event.kind == kind)
    stmt = stmt.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)
    return session.scalars(stmt).all()


def count_for_user(session: Session, company_id: int, user_id: int) -> int:
    stmt = select(func.count()).where(Event.company_id == company_id, Event.user_id == user_id)
    return int(session.execute(stmt).scalar_one())


def by_external_id(session: Session, company_id: int, external_event_id: str) -> Event | None:
    stmt = select(Event).where(
        Event.company_id == company_id, Event.external_event_id == external_event_id
    )
    return session.scalars(stmt).first()
