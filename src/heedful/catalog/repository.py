"""Every catalog query; each filters by company_id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from heedful.catalog.rows import PRODUCT_COLUMNS, VARIANT_COLUMNS
from heedful.storage.models.catalog import CatalogProduct, CatalogUpload, CatalogVariant

_PRODUCT_KEY = ("company_id", "product_id")
_VARIANT_KEY = ("company_id", "variant_id")


def add_upload(session: Session, upload: CatalogUpload) -> CatalogUpload:
    session.add(upload)
    session.flush()
    return upload


def uploads(session: Session, company_id: int) -> Sequence[CatalogUpload]:
    stmt = select(CatalogUpload).where(CatalogUpload.company_id == company_id)
    return session.scalars(stmt.order_by(CatalogUpload.id)).all()


def upload_by_public_id(session: Session, company_id: int, public_id: str) -> CatalogUpload | None:
    stmt = select(CatalogUpload).where(
        CatalogUpload.company_id == company_id, CatalogUpload.public_id == public_id
    )
    return session.scalars(stmt).first()


def upload_for_capability(session: Session, public_id: str) -> CatalogUpload | None:
    # Unscoped by design: the signed upload URL is the credential and names the upload.
    stmt = select(CatalogUpload).where(CatalogUpload.public_id == public_id)
    return session.scalars(stmt).first()


def lock_upload(session: Session, company_id: int, upload_id: int) -> CatalogUpload | None:
    stmt = (
        select(CatalogUpload)
        .where(CatalogUpload.company_id == company_id, CatalogUpload.id == upload_id)
        .with_for_update()
    )
    return session.scalars(stmt).first()


def claim_for_processing(
    session: Session, company_id: int, upload_id: int, values: dict[str, Any]
) -> bool:
    """initialized -> validating, once: False when another request got there first."""
    stmt = (
        update(CatalogUpload)
        .where(
            CatalogUpload.company_id == company_id,
            CatalogUpload.id == upload_id,
            CatalogUpload.status == "initialized",
        )
        .values(**values)
        .returning(CatalogUpload.id)
        .execution_options(synchronize_session=False)
    )
    return session.scalar(stmt) is not None


def _upsert(
    session: Session,
    table: str,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    conflict: tuple[str, ...],
) -> None:
    """One DBAPI executemany of a static INSERT ... ON CONFLICT DO UPDATE, rows already in
    storage form (heedful.catalog.rows): the hot path of ingestion, with no per-row SQL
    compilation or bind processing."""
    if not rows:
        return
    connection = session.connection()
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in conflict)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}"
    )
    connection.exec_driver_sql(sql, rows)


def upsert_products(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert or update by (company_id, product_id): a delta upload never duplicates."""
    _upsert(session, CatalogProduct.__tablename__, PRODUCT_COLUMNS, rows, _PRODUCT_KEY)


def upsert_variants(session: Session, rows: list[tuple[Any, ...]]) -> None:
    _upsert(session, CatalogVariant.__tablename__, VARIANT_COLUMNS, rows, _VARIANT_KEY)


def products_page(
    session: Session, company_id: int, after: int, limit: int
) -> Sequence[CatalogProduct]:
    stmt = (
        select(CatalogProduct)
        .where(CatalogProduct.company_id == company_id, CatalogProduct.id > after)
        .order_by(CatalogProduct.id)
        .limit(limit)
    )
    return session.scalars(stmt).all()


def product(session: Session, company_id: int, product_id: str) -> CatalogProduct | None:
    stmt = select(CatalogProduct).where(
        CatalogProduct.company_id == company_id, CatalogProduct.product_id == product_id
    )
    return session.scalars(stmt).first()


def variants_of(
    session: Session, company_id: int, product_ids: Sequence[str]
) -> Sequence[CatalogVariant]:
    stmt = (
        select(CatalogVariant)
        .where(CatalogVariant.company_id == company_id, CatalogVariant.product_id.in_(product_ids))
        # Variants without a position last: spelled out, as NULLs sort first on SQLite and
        # last on PostgreSQL.
        .order_by(
            CatalogVariant.product_id,
            CatalogVariant.position.is_(None),
            CatalogVariant.position,
            CatalogVariant.id,
        )
    )
    return session.scalars(stmt).all()
