"""Every catalog query; each filters by company_id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from heedful.storage.models.catalog import (
    CatalogProduct,
    CatalogUpload,
    CatalogUploadKey,
    CatalogVariant,
)

# Keeps IN lists and multi-row statements well under SQLite's 32,766 bound parameters.
_BATCH = 2000


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


def known_keys(
    session: Session, company_id: int, upload_id: int, hashes: Iterable[int]
) -> dict[int, tuple[int, bool]]:
    """key hash -> (first line, rejected) for the given hashes already recorded.

    Plain DBAPI SQL: this runs for every chunk with thousands of parameters, and compiling
    it through SQLAlchemy each time cost more than the lookup."""
    wanted = list(hashes)
    connection = session.connection()
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    found: dict[int, tuple[int, bool]] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        sql = (
            "SELECT key_hash, line_num, rejected FROM catalog_upload_keys "
            f"WHERE company_id = {mark} AND upload_id = {mark} "
            f"AND key_hash IN ({', '.join([mark] * len(batch))})"
        )
        rows = connection.exec_driver_sql(sql, (company_id, upload_id, *batch))
        for key_hash, line_num, rejected in rows:
            found[int(key_hash)] = (int(line_num), bool(rejected))
    return found


def _bulk_insert(
    session: Session,
    table: Any,
    rows: list[dict[str, Any]],
    conflict: tuple[str, ...],
    update: tuple[str, ...] = (),
) -> None:
    """One DBAPI executemany of a static INSERT ... ON CONFLICT, with each column's own bind
    processing: the hot path of ingestion, without per-row SQL compilation."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    columns = list(rows[0])
    mark = "?" if dialect.name == "sqlite" else "%s"
    action = (
        "UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name in update)
        if update
        else "NOTHING"
    )
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO {action}"
    )
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in columns]
    params = [
        tuple(
            row[name] if process is None else process(row[name])
            for name, process in zip(columns, processors, strict=True)
        )
        for row in rows
    ]
    connection.exec_driver_sql(sql, params)


def add_keys(session: Session, rows: list[dict[str, Any]]) -> None:
    _bulk_insert(session, CatalogUploadKey.__table__, rows, ("company_id", "upload_id", "key_hash"))


def drop_keys(session: Session, company_id: int, upload_id: int) -> None:
    session.execute(
        delete(CatalogUploadKey).where(
            CatalogUploadKey.company_id == company_id, CatalogUploadKey.upload_id == upload_id
        )
    )


def upsert_products(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or update by (company_id, product_id): a delta upload never duplicates."""
    _bulk_insert(
        session,
        CatalogProduct.__table__,
        rows,
        ("company_id", "product_id"),
        ("name", "link", "last_updated", "data", "upload_id", "updated_at"),
    )


def upsert_variants(session: Session, rows: list[dict[str, Any]]) -> None:
    _bulk_insert(
        session,
        CatalogVariant.__table__,
        rows,
        ("company_id", "variant_id"),
        (
            "product_id",
            "name",
            "position",
            "available_for_purchase",
            "inventory_quantity",
            "data",
            "updated_at",
        ),
    )


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
        .order_by(CatalogVariant.product_id, CatalogVariant.position, CatalogVariant.id)
    )
    return session.scalars(stmt).all()
