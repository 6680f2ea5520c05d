"""Subscriptions (a user's consent to one type of message on one channel) and consent records.

Personal data: both tables name their user by `user_id` (FK to `users.id`, ON DELETE CASCADE)
and hold no phone or email copy; deleting a user deletes its subscriptions and consent records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from heedful.storage.models.base import Base, BigIntId, UTCDateTime


class Subscription(Base):
    """One (user, type, channel) of a company: `pending` (awaiting the "Reply Y"),
    `subscribed` (opted in and confirmed: eligible) or `unsubscribed`."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))  # MARKETING | TRANSACTIONAL | CHECKOUT_ABANDONED
    channel: Mapped[str] = mapped_column(String(8))  # TEXT | EMAIL
    status: Mapped[str] = mapped_column(String(16))
    # The sign-up source of the latest opt-in (the webhook's `creative`); kept if it goes away.
    signup_source_id: Mapped[int | None] = mapped_column(
        ForeignKey("signup_sources.id", ondelete="SET NULL"), index=True
    )
    language: Mapped[str] = mapped_column(String(8))  # of the texts sent about it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("company_id", "user_id", "type", "channel"),)


class ConsentRecord(Base):
    """One consent event: what happened to a subscription, through what, and when."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    # opt_in_requested | opted_in | confirmed | resubscribe_attempt | unsubscribed |
    # unsubscribe_attempt | resubscribed
    action: Mapped[str] = mapped_column(String(32))
    # api | sms_keyword: what the action came through
    channel_source: Mapped[str] = mapped_column(String(16))
    signup_source_id: Mapped[int | None] = mapped_column(
        ForeignKey("signup_sources.id", ondelete="SET NULL")
    )
    keyword: Mapped[str | None] = mapped_column(String(32))  # the inbound keyword, if any
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_consent_records_company_user", "company_id", "user_id"),)
