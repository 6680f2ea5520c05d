"""Every query of the subscriptions area; each filters by company_id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from heedful.storage.models import SignUpSource
from heedful.storage.models.subscriptions import ConsentRecord, Subscription


def signup_source(session: Session, company_id: int, source_id: int) -> SignUpSource | None:
    stmt = select(SignUpSource).where(
        SignUpSource.company_id == company_id, SignUpSource.id == source_id
    )
    return session.scalars(stmt).first()


def signup_sources(session: Session, company_id: int | None) -> Sequence[SignUpSource]:
    """A company's sign-up sources. Unscoped when `company_id` is None: only the operator's CLI
    lists every company's."""
    stmt = select(SignUpSource)
    if company_id is not None:
        stmt = stmt.where(SignUpSource.company_id == company_id)
    return session.scalars(stmt.order_by(SignUpSource.company_id, SignUpSource.id)).all()


def api_sources_matching(
    session: Session, company_id: int, locale: str, subscription_type: str
) -> Sequence[SignUpSource]:
    stmt = select(SignUpSource).where(
        SignUpSource.company_id == company_id,
        SignUpSource.source_type == "API",
        SignUpSource.locale == locale,
        SignUpSource.subscription_type == subscription_type,
    )
    return session.scalars(stmt.order_by(SignUpSource.id)).all()


def subscription(
    session: Session, company_id: int, user_id: int, type_: str, channel: str
) -> Subscription | None:
    stmt = (
        select(Subscription)
        .where(
            Subscription.company_id == company_id,
            Subscription.user_id == user_id,
            Subscription.type == type_,
            Subscription.channel == channel,
        )
        .with_for_update()
    )
    return session.scalars(stmt).first()


def subscriptions_of(
    session: Session,
    company_id: int,
    user_ids: Sequence[int],
    channels: Sequence[str] = (),
    *,
    lock: bool = True,
) -> Sequence[Subscription]:
    """The users' subscriptions (locked for update unless `lock` is false), in a stable order."""
    stmt = select(Subscription).where(
        Subscription.company_id == company_id, Subscription.user_id.in_(list(user_ids))
    )
    if channels:
        stmt = stmt.where(Subscription.channel.in_(list(channels)))
    stmt = stmt.order_by(Subscription.user_id, Subscription.channel.desc(), Subscription.id)
    return session.scalars(stmt.with_for_update() if lock else stmt).all()


def add_consent(
    session: Session,
    subscription: Subscription,
    action: str,
    via: str,
    occurred_at: datetime,
    *,
    signup_source_id: int | None = None,
    keyword: str | None = None,
) -> None:
    session.add(
        ConsentRecord(
            company_id=subscription.company_id,
            user_id=subscription.user_id,
            subscription_id=subscription.id,
            action=action,
            channel_source=via,
            signup_source_id=signup_source_id,
            keyword=keyword,
            occurred_at=occurred_at,
        )
    )


def consent_records(session: Session, company_id: int, user_id: int) -> Sequence[ConsentRecord]:
    stmt = (
        select(ConsentRecord)
        .where(ConsentRecord.company_id == company_id, ConsentRecord.user_id == user_id)
        .order_by(ConsentRecord.id)
    )
    return session.scalars(stmt).all()


def move_consent_records(
    session: Session, company_id: int, from_subscription: int, to_subscription: int
) -> None:
    session.execute(
        update(ConsentRecord)
        .where(
            ConsentRecord.company_id == company_id,
            ConsentRecord.subscription_id == from_subscription,
        )
        .values(subscription_id=to_subscription)
    )


def delete_subscription(session: Session, company_id: int, subscription_id: int) -> None:
    row = session.get(Subscription, subscription_id)
    if row is not None and row.company_id == company_id:
        session.delete(row)
        session.flush()
