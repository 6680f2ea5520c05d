"""Every query on events; each filters by company_id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

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


def _insert_sql(dialect: str) -> str:
    if dialect == "postgresql":
        values = ", ".join(
            "CAST(%s AS json)" if column in _JSON_COLUMNS else "%s" for column in INSERT_COLUMNS
        )
    else:
        values = ", ".join("?" for _ in INSERT_COLUMNS)
    return (
        f"INSERT INTO events ({', '.join(INSERT_COLUMNS)}) VALUES ({values}) ON CONFLICT DO NOTHING"
    )


_INSERT_SQL = {dialect: _insert_sql(dialect) for dialect in ("sqlite", "postgresql")}


def insert_events(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """One executemany of rows already in the driver's terms (see `database_row`); a row
    whose externalEventId is already stored is skipped.

    Straight to the driver: at ingestion rates, SQLAlchemy's per-row bind processing (JSON,
    datetimes) cost more than SQLite's own work for the insert."""
    if not rows:
        return
    connection = session.connection()
    connection.exec_driver_sql(_INSERT_SQL[connection.dialect.name], list(rows))


def database_row(dialect: str, values: dict[str, Any]) -> tuple[Any, ...]:
    """`values` (one per INSERT_COLUMNS) as the driver stores them, the way SQLAlchemy's
    column types would: JSON as text, and on SQLite datetimes as naive UTC text and
    booleans as integers."""
    row = []
    for column in INSERT_COLUMNS:
        value = values[column]
        if column in _JSON_COLUMNS:
            value = _json.encode(value).decode()
        elif dialect == "sqlite" and isinstance(value, datetime):
            value = sqlite_datetime(value)
        elif dialect == "sqlite" and isinstance(value, bool):
            value = int(value)
        row.append(value)
    return tuple(row)


def sqlite_datetime(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores (naive UTC, always with microseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


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
