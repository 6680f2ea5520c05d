"""Every query on events; each filters by company_id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from heedful.storage.models.events import Event


def stored_external_ids(session: Session, company_id: int, candidates: Iterable[str]) -> set[str]:
    wanted = sorted(set(candidates))
    if not wanted:
        return set()
    stmt = select(Event.external_event_id).where(
        Event.company_id == company_id, Event.external_event_id.in_(wanted)
    )
    return {value for value in session.scalars(stmt) if value is not None}


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row insert; a row whose externalEventId is already stored is skipped."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The table, not the mapped class: a Core executemany skips the ORM's bulk bookkeeping,
    # which costs more than the insert itself at ingestion rates.
    table = Event.__table__
    assert isinstance(table, Table)
    session.execute(insert(table).on_conflict_do_nothing(), list(rows))


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
