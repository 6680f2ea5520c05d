"""Every query of the identity graph; each filters by company_id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from heedful.identity.identifiers import Identifier
from heedful.storage.db import driver_error
from heedful.storage.models import Base
from heedful.storage.models.identity import User, UserIdentifier, UserMerge

# Straight to the driver: every ingestion batch resolves its users, and a select() (or even a
# text() with an expanding IN) costs SQLAlchemy several times SQLite's own lookup.
_OWNERS_SQL = (
    f"SELECT kind, value, name, user_id FROM {UserIdentifier.__tablename__} "
    "WHERE company_id = {mark} AND value IN ({marks})"
)

# Values per owners query: PostgreSQL takes at most 65535 parameters in a statement, and one
# request (up to the body limit) can name more identifiers than that.
OWNER_VALUES_PER_QUERY = 10_000


def _owners_sql(dialect: str, count: int) -> str:
    mark = "%s" if dialect == "postgresql" else "?"
    return _OWNERS_SQL.replace("{mark}", mark).replace("{marks}", ", ".join([mark] * count))


def owners(
    session: Session, company_id: int, identifiers: Iterable[Identifier]
) -> dict[Identifier, int]:
    """Which user owns each of `identifiers` (those that are known)."""
    wanted = set(identifiers)
    if not wanted:
        return {}
    values = sorted({item.value for item in wanted})
    connection = session.connection()
    rows: list[tuple[str, str, str, int]] = []
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(values), OWNER_VALUES_PER_QUERY):
            chunk = values[start : start + OWNER_VALUES_PER_QUERY]
            cursor.execute(_owners_sql(connection.dialect.name, len(chunk)), (company_id, *chunk))
            rows.extend(cursor.fetchall())
    except connection.dialect.loaded_dbapi.Error as exc:
        raise driver_error(connection, "SELECT owners FROM user_identifiers", exc) from exc
    finally:
        cursor.close()
    found: dict[Identifier, int] = {}
    for kind, value, name, user_id in rows:
        key = Identifier(kind, value, name)
        if key in wanted:
            found[key] = user_id
    return found


def create_user(session: Session, company_id: int, now: datetime) -> int:
    stmt = insert(User).values(company_id=company_id, created_at=now).returning(User.id)
    return int(session.execute(stmt).scalar_one())


def add_identifiers(
    session: Session, company_id: int, user_id: int, items: Sequence[Identifier], now: datetime
) -> None:
    if not items:
        return
    rows = [
        {
            "company_id": company_id,
            "user_id": user_id,
            "kind": item.kind,
            "name": item.name,
            "value": item.value,
            "created_at": now,
        }
        for item in items
    ]
    session.execute(insert(UserIdentifier), rows)


def user_exists(session: Session, company_id: int, user_id: int) -> bool:
    stmt = select(User.id).where(User.company_id == company_id, User.id == user_id)
    return session.execute(stmt).first() is not None


def lock_users(session: Session, company_id: int, user_ids: Sequence[int]) -> set[int]:
    """Row locks on PostgreSQL (in id order, so two merges never deadlock on them); returns
    the ids still there once locked (an erasure or merge that held one may have deleted it)."""
    stmt = (
        select(User.id)
        .where(User.company_id == company_id, User.id.in_(sorted(user_ids)))
        .order_by(User.id)
        .with_for_update()
    )
    return set(session.scalars(stmt))


def identifiers_of(session: Session, company_id: int, user_id: int) -> list[Identifier]:
    stmt = (
        select(UserIdentifier.kind, UserIdentifier.value, UserIdentifier.name)
        .where(UserIdentifier.company_id == company_id, UserIdentifier.user_id == user_id)
        .order_by(UserIdentifier.id)
    )
    return [Identifier(kind, value, name) for kind, value, name in session.execute(stmt)]


def user_created_at(session: Session, company_id: int, user_id: int) -> datetime | None:
    stmt = select(User.created_at).where(User.company_id == company_id, User.id == user_id)
    return session.execute(stmt).scalar_one_or_none()


def survivor_of(session: Session, company_id: int, merged_user_id: int) -> int | None:
    stmt = (
        select(UserMerge.survivor_id)
        .where(UserMerge.company_id == company_id, UserMerge.merged_user_id == merged_user_id)
        .order_by(UserMerge.id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def merges_into(session: Session, company_id: int, survivor_id: int) -> Sequence[UserMerge]:
    stmt = (
        select(UserMerge)
        .where(UserMerge.company_id == company_id, UserMerge.survivor_id == survivor_id)
        .order_by(UserMerge.id)
    )
    return session.scalars(stmt).all()


def record_merge(
    session: Session,
    company_id: int,
    survivor_id: int,
    merged_user_id: int,
    identifiers: list[dict[str, Any]],
    now: datetime,
) -> None:
    session.execute(
        insert(UserMerge).values(
            company_id=company_id,
            survivor_id=survivor_id,
            merged_user_id=merged_user_id,
            identifiers=identifiers,
            merged_at=now,
        )
    )


def user_references() -> list[tuple[Table, str]]:
    """Every (table, column) with a foreign key to users.id, in every area's models."""
    found: list[tuple[Table, str]] = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "users" for fk in column.foreign_keys):
                found.append((table, column.name))
    return found


def repoint(
    session: Session, company_id: int, table: Table, column: str, survivor_id: int, merged_id: int
) -> None:
    stmt = update(table).where(table.c[column] == merged_id).values({column: survivor_id})
    if "company_id" in table.c:
        stmt = stmt.where(table.c.company_id == company_id)
    session.execute(stmt)


def delete_user(session: Session, company_id: int, user_id: int) -> None:
    session.execute(delete(User).where(User.company_id == company_id, User.id == user_id))


def owners_in_any_company(
    session: Session, identifier: Identifier, company_id: int | None
) -> list[tuple[int, int]]:
    """(company id, user id) of the owners of `identifier`. Unscoped when `company_id` is None:
    only the operator's admin API and CLI look across companies."""
    stmt = select(UserIdentifier.company_id, UserIdentifier.user_id).where(
        UserIdentifier.kind == identifier.kind,
        UserIdentifier.name == identifier.name,
        UserIdentifier.value == identifier.value,
    )
    if company_id is not None:
        stmt = stmt.where(UserIdentifier.company_id == company_id)
    return [(row[0], row[1]) for row in session.execute(stmt.order_by(UserIdentifier.company_id))]


def company_of_user(session: Session, user_id: int) -> int | None:
    """The company of a user id, or (for a merged-away id) of its merge record. Unscoped: the
    operator's admin API names users by id alone."""
    found = session.execute(select(User.company_id).where(User.id == user_id)).scalar()
    if found is None:
        stmt = select(UserMerge.company_id).where(UserMerge.merged_user_id == user_id).limit(1)
        found = session.execute(stmt).scalar()
    return found
