"""The message outbox (and the inbound texts heedful was told about) and per-company templates.

Personal data: every message names its user by `user_id` (FK to `users.id`, ON DELETE CASCADE)
and also holds copies of it: `address` (the phone or email it went to or came from) and
`body`/`subject` (the text, which may quote the user). Deleting the user deletes those rows.
Templates hold no personal data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from heedful.storage.models.base import Base, BigIntId, UTCDateTime


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # outbound | inbound
    channel: Mapped[str] = mapped_column(String(8))  # TEXT | EMAIL
    type: Mapped[str] = mapped_column(String(32))  # OPT_IN_CONFIRMATION, WELCOME, ...
    subscription_type: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(320))  # to (outbound) or from (inbound)
    subject: Mapped[str | None] = mapped_column(String(998))
    body: Mapped[str] = mapped_column(Text)
    # queued | sent | failed (outbound); received (inbound)
    status: Mapped[str] = mapped_column(String(16))
    transport: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Never reuse an id on SQLite: ids are public (webhook payloads, Message-ID headers) and
    # name the message in its send job, and erasure may delete the newest message.
    __table_args__ = (
        Index("ix_messages_company_address", "company_id", "address"),
        {"sqlite_autoincrement": True},
    )


class MessageTemplate(Base):
    """A company's own wording for one message type in one language (else the default)."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(String(998))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("company_id", "type", "language"),)
