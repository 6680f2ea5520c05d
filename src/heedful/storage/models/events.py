"""Events recorded against users: eCommerce (product view, add to cart, purchase) and custom."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from heedful.storage.models.base import Base, BigIntId, UTCDateTime


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # product_view, add_to_cart, purchase or custom.
    kind: Mapped[str] = mapped_column(String(16))
    # The custom event's `type`; null for eCommerce events.
    type: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    external_event_id: Mapped[str | None] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # False when occurredAt was more than 12 hours before receipt: stored, triggers no journey.
    journey_eligible: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        UniqueConstraint("company_id", "external_event_id"),
        Index("ix_events_company_user_occurred", "company_id", "user_id", "occurred_at"),
    )
