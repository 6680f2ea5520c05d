"""Every query of the messaging area; each filters by company_id (operator views say why not)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from heedful.storage.models.messaging import Message, MessageTemplate


def message_for_update(session: Session, company_id: int, message_id: int) -> Message | None:
    stmt = (
        select(Message)
        .where(Message.company_id == company_id, Message.id == message_id)
        .with_for_update()
    )
    return session.scalars(stmt).first()


def template(
    session: Session, company_id: int, message_type: str, language: str
) -> MessageTemplate | None:
    stmt = select(MessageTemplate).where(
        MessageTemplate.company_id == company_id,
        MessageTemplate.type == message_type,
        MessageTemplate.language == language,
    )
    return session.scalars(stmt).first()


def templates_of(session: Session, company_id: int) -> Sequence[MessageTemplate]:
    stmt = (
        select(MessageTemplate)
        .where(MessageTemplate.company_id == company_id)
        .order_by(MessageTemplate.type, MessageTemplate.language)
    )
    return session.scalars(stmt).all()


def messages(
    session: Session,
    *,
    company_id: int | None,
    addresses: Sequence[str],
    limit: int,
) -> Sequence[Message]:
    """Newest first. Unscoped when `company_id` is None: only the operator's admin API and CLI
    look across companies."""
    stmt = select(Message)
    if company_id is not None:
        stmt = stmt.where(Message.company_id == company_id)
    if addresses:
        stmt = stmt.where(Message.address.in_(list(addresses)))
    return session.scalars(stmt.order_by(Message.id.desc()).limit(limit)).all()
