"""Every query on custom attributes; each filters by company_id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import Session

from heedful.storage.models.attributes import AttributeDefinition, UserAttribute


def definitions(
    session: Session, company_id: int, names: Iterable[str]
) -> dict[str, tuple[int, str]]:
    """name -> (definition id, type) for the known `names`."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    stmt = select(AttributeDefinition.name, AttributeDefinition.id, AttributeDefinition.type).where(
        AttributeDefinition.company_id == company_id, AttributeDefinition.name.in_(wanted)
    )
    return {name: (definition_id, kind) for name, definition_id, kind in session.execute(stmt)}


def create_definition(
    session: Session, company_id: int, name: str, kind: str, now: datetime
) -> int:
    stmt = (
        insert(AttributeDefinition)
        .values(company_id=company_id, name=name, type=kind, created_at=now)
        .returning(AttributeDefinition.id)
    )
    return int(session.execute(stmt).scalar_one())


def values_of(
    session: Session, company_id: int, user_id: int, definition_ids: Iterable[int]
) -> dict[int, Any]:
    wanted = sorted(set(definition_ids))
    if not wanted:
        return {}
    stmt = select(UserAttribute.definition_id, UserAttribute.value).where(
        UserAttribute.company_id == company_id,
        UserAttribute.user_id == user_id,
        UserAttribute.definition_id.in_(wanted),
    )
    return dict(session.execute(stmt).tuples().all())


def insert_value(
    session: Session, company_id: int, user_id: int, definition_id: int, value: Any, now: datetime
) -> None:
    session.execute(
        insert(UserAttribute).values(
            company_id=company_id,
            user_id=user_id,
            definition_id=definition_id,
            value=value,
            updated_at=now,
        )
    )


def update_value(
    session: Session, company_id: int, user_id: int, definition_id: int, value: Any, now: datetime
) -> bool:
    """False when the row is gone (deleted or moved to another user since it was read)."""
    result = session.execute(
        update(UserAttribute)
        .where(
            UserAttribute.company_id == company_id,
            UserAttribute.user_id == user_id,
            UserAttribute.definition_id == definition_id,
        )
        .values(value=value, updated_at=now)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def profile_of(session: Session, company_id: int, user_id: int) -> Sequence[tuple[str, str, Any]]:
    """(name, type, value) of every attribute on the user, by name."""
    stmt = (
        select(AttributeDefinition.name, AttributeDefinition.type, UserAttribute.value)
        .join(AttributeDefinition, AttributeDefinition.id == UserAttribute.definition_id)
        .where(UserAttribute.company_id == company_id, UserAttribute.user_id == user_id)
        .order_by(AttributeDefinition.name)
    )
    return session.execute(stmt).tuples().all()


def rows_of_users(
    session: Session, company_id: int, user_ids: Sequence[int]
) -> Sequence[tuple[int, int, int, datetime]]:
    """(row id, user id, definition id, updated_at) of the users' attribute values."""
    stmt = select(
        UserAttribute.id,
        UserAttribute.user_id,
        UserAttribute.definition_id,
        UserAttribute.updated_at,
    ).where(UserAttribute.company_id == company_id, UserAttribute.user_id.in_(user_ids))
    return session.execute(stmt).tuples().all()


def delete_rows(session: Session, company_id: int, row_ids: Sequence[int]) -> None:
    if row_ids:
        session.execute(
            delete(UserAttribute).where(
                UserAttribute.company_id == company_id, UserAttribute.id.in_(row_ids)
            )
        )
