"""Privacy (CCPA) delete requests: what was asked, masked, and what processing did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from heedful.storage.models.base import Base, BigIntId, UTCDateTime


class PrivacyRequest(Base):
    """One delete request. The raw identifiers (`pending_*`) live only until it is processed;
    afterwards the row keeps the masked forms shown by the API and keyed hashes for audit."""

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    # The alphanumeric id the API shows.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    masked_phone: Mapped[str | None] = mapped_column(String(32))
    masked_email: Mapped[str | None] = mapped_column(String(330))
    masked_client_user_id: Mapped[str | None] = mapped_column(String(32))
    # HMAC-SHA256 (key: HEEDFUL_PRIVACY_HASH_KEY) of "kind:value", lowercase hex.
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    client_user_id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # The normalised identifiers the job needs; set to null when the request is processed.
    pending_phone: Mapped[str | None] = mapped_column(String(32))
    pending_email: Mapped[str | None] = mapped_column(String(320))
    pending_client_user_id: Mapped[str | None] = mapped_column(String(100))
    request_msg: Mapped[str | None] = mapped_column(Text)
    processed: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the deletion job is due (requested_at + HEEDFUL_PRIVACY_DELETE_DELAY).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processing_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What processing removed: {"users": n, "rows": {table: n}, "scrubbed": {table: n}}.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_privacy_requests_company_requested", "company_id", "id"),)
