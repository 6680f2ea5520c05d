"""Product catalog: upload sessions, products, variants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from heedful.storage.models.base import Base, BigIntId, UTCDateTime


class CatalogUpload(Base):
    __tablename__ = "catalog_uploads"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    validate_only: Mapped[bool] = mapped_column(Boolean)
    # Where the file lives: backend "local" (an absolute path) or "s3" (bucket, key, endpoint).
    backend: Mapped[str] = mapped_column(String(8))
    location: Mapped[dict[str, Any]] = mapped_column(JSON)
    upload_url: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # Processing checkpoint: phase "validate" then "ingest"; byte offset and line reached.
    phase: Mapped[str] = mapped_column(String(8))
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    line_num: Mapped[int] = mapped_column(Integer, default=0)
    products_received: Mapped[int] = mapped_column(Integer, default=0)
    products_processed: Mapped[int] = mapped_column(Integer, default=0)
    products_saved: Mapped[int] = mapped_column(Integer, default=0)
    # {"counts": {errorType: n}, "errors": [first 10 of each type]}
    errors: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Numbers of the lines validation rejected (int64 array bytes), read by the ingest phase;
    # up to 4 MB, so loaded only when used.
    rejected_lines: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # The worker process whose memory holds this upload's validation state (ids seen).
    processed_by: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_catalog_uploads_company_created", "company_id", "id"),)


class CatalogProduct(Base):
    __tablename__ = "catalog_products"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # No one-column company index: the unique (company_id, product_id) one serves, and every
    # index is another b-tree each ingested row must enter.
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    product_id: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(256))
    link: Mapped[str] = mapped_column(Text)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)
    # The product as uploaded, without its variants (they are rows of catalog_variants).
    data: Mapped[str] = mapped_column(Text)
    upload_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("company_id", "product_id"),)


class CatalogVariant(Base):
    __tablename__ = "catalog_variants"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    variant_id: Mapped[str] = mapped_column(String(256))
    product_id: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(256))
    position: Mapped[int | None] = mapped_column(Integer)
    available_for_purchase: Mapped[bool] = mapped_column(Boolean)
    inventory_quantity: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("company_id", "variant_id"),
        Index("ix_catalog_variants_company_product", "company_id", "product_id"),
    )
