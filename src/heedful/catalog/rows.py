"""Product and variant rows built from validated lines, ready for the database driver.

Pure (no web, no database): a worker process turns a batch of lines into plain tuples in
the columns' storage form, so the writing process only hands them to `executemany`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from heedful.catalog.validator import (
    MAX_LINE_BYTES,
    Block,
    Product,
    Variant,
    block_lines,
    decode_product,
)

PRODUCT_COLUMNS = (
    "company_id",
    "product_id",
    "name",
    "link",
    "last_updated",
    "data",
    "upload_id",
    "updated_at",
)
VARIANT_COLUMNS = (
    "company_id",
    "variant_id",
    "product_id",
    "name",
    "position",
    "available_for_purchase",
    "inventory_quantity",
    "data",
    "updated_at",
)

Row = tuple[Any, ...]
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class RowContext:
    company_id: int
    upload_id: int
    now: datetime
    dialect: str  # "sqlite" or "postgresql": how timestamps are stored
    last_line: int  # the last line validation read (it stops at the product limit)
    max_line_bytes: int = MAX_LINE_BYTES


@dataclass
class Rows:
    products: list[Row] = field(default_factory=list)
    variants: list[Row] = field(default_factory=list)


def block_rows(work: tuple[Block, frozenset[int]], context: RowContext) -> Rows:
    """Rows for a block's lines that validation passed: not among the block's `rejected`
    line numbers, and not past the last line validation read."""
    block, rejected = work[0].attached(), work[1]
    return build_rows(
        [
            raw
            for number, raw in block_lines(block, context.max_line_bytes)
            if raw is not None and number <= context.last_line and number not in rejected
        ],
        context,
    )


def build_rows(batch: list[bytes], context: RowContext) -> Rows:
    """Rows for lines that passed validation (a line that no longer decodes is skipped)."""
    stamp = _sqlite_stamp if context.dialect == "sqlite" else _aware
    now = stamp(context.now)
    rows = Rows()
    for raw in batch:
        _add_rows(rows, raw, context, stamp, now)
    return rows


def _add_rows(rows: Rows, raw: bytes, context: RowContext, stamp: Any, now: Any) -> None:
    """The product's row and its variants' (a line that no longer decodes is skipped)."""
    product = decode_product(raw)
    if product is None:
        return
    rows.products.append(_product_row(product, context, stamp(product.lastUpdated), now))
    rows.variants.extend(
        _variant_row(product, variant, context.company_id, now) for variant in product.variants
    )


def _product_row(product: Product, context: RowContext, last_updated: Any, now: Any) -> Row:
    without_variants = msgspec.structs.replace(product, variants=[])
    return (
        context.company_id,
        product.id,
        product.name,
        product.link,
        last_updated,
        _encoder.encode(without_variants).decode(),
        context.upload_id,
        now,
    )


def _variant_row(product: Product, variant: Variant, company_id: int, now: Any) -> Row:
    return (
        company_id,
        variant.id,
        product.id,
        variant.name,
        variant.position,
        variant.availableForPurchase,
        variant.inventoryQuantity,
        _encoder.encode(variant).decode(),
        now,
    )


def _aware(moment: datetime) -> datetime:
    """PostgreSQL (timestamptz): an aware UTC datetime; a timestamp without offset is UTC."""
    return _utc(moment)


def _sqlite_stamp(moment: datetime) -> str:
    """SQLite: naive UTC text in SQLAlchemy's DATETIME storage format, so the ORM reads
    these rows back exactly as rows it wrote itself."""
    return _utc(moment).replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc(moment: datetime) -> datetime:
    """The moment in UTC, held to the years 1-9999: a file's `0001-01-01T00:00:00+01:00`
    (.NET's MinValue in a zone east of UTC) falls in year 0 in UTC, which Python cannot
    hold and PostgreSQL stores but cannot hand back. The column is for sorting and
    filtering; `data` keeps the timestamp exactly as uploaded."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)
