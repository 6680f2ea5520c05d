"""The identity graph: users (visitors), their identifiers, and the merges that joined users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from heedful.storage.models.base import Base, BigIntId, UTCDateTime


class User(Base):
    """A person as one company knows them; need not be a subscriber."""

    __tablename__ = "users"
    # Never reuse a deleted user's id (SQLite would, for the highest one): ids leave heedful
    # in webhook payloads (`external_id`) and must keep naming one person.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UserIdentifier(Base):
    """One (kind, name, value) of a company, owned by exactly one user.

    `kind` is phone, email, shopifyId, klaviyoId, clientUserId or custom; `name` is the custom
    identifier's name ("" for the other kinds). Phones are stored in E.164, emails lowercased.
    """

    __tablename__ = "user_identifiers"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("company_id", "kind", "name", "value"),
        Index("ix_user_identifiers_company_value", "company_id", "value"),
    )


class UserMerge(Base):
    """A record that `merged_user_id` was folded into `survivor_id` (the merged row is gone)."""

    __tablename__ = "user_merges"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    survivor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Not a foreign key: the merged user's row is deleted by the merge.
    merged_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # The merged user's identifiers at the time, as [{"kind", "name", "value"}].
    identifiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
