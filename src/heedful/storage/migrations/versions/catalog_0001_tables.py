"""catalog: uploads, upload keys, products, variants

Revision ID: catalog_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import heedful.storage.models.base

revision = "catalog_0001"
down_revision = "0001"
branch_labels = ("catalog",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_products",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("product_id", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column(
            "last_updated", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("upload_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "updated_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_catalog_products_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_products")),
        sa.UniqueConstraint(
            "company_id", "product_id", name=op.f("uq_catalog_products_company_id_product_id")
        ),
    )
    with op.batch_alter_table("catalog_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_products_company_id"), ["company_id"], unique=False
        )

    op.create_table(
        "catalog_uploads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("validate_only", sa.Boolean(), nullable=False),
        sa.Column("backend", sa.String(length=8), nullable=False),
        sa.Column("location", sa.JSON(), nullable=False),
        sa.Column("upload_url", sa.Text(), nullable=False),
        sa.Column(
            "expires_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "received_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("line_num", sa.Integer(), nullable=False),
        sa.Column("products_received", sa.Integer(), nullable=False),
        sa.Column("products_processed", sa.Integer(), nullable=False),
        sa.Column("products_saved", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_catalog_uploads_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_uploads")),
        sa.UniqueConstraint("public_id", name=op.f("uq_catalog_uploads_public_id")),
    )
    with op.batch_alter_table("catalog_uploads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_uploads_company_created", ["company_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_catalog_uploads_company_id"), ["company_id"], unique=False
        )

    op.create_table(
        "catalog_variants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("variant_id", sa.String(length=256), nullable=False),
        sa.Column("product_id", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("available_for_purchase", sa.Boolean(), nullable=False),
        sa.Column("inventory_quantity", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_catalog_variants_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_variants")),
        sa.UniqueConstraint(
            "company_id", "variant_id", name=op.f("uq_catalog_variants_company_id_variant_id")
        ),
    )
    with op.batch_alter_table("catalog_variants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_variants_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            "ix_catalog_variants_company_product", ["company_id", "product_id"], unique=False
        )

    op.create_table(
        "catalog_upload_keys",
        sa.Column(
            "upload_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key_hash", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("line_num", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_catalog_upload_keys_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["catalog_uploads.id"],
            name=op.f("fk_catalog_upload_keys_upload_id_catalog_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", "key_hash", name=op.f("pk_catalog_upload_keys")),
    )
    with op.batch_alter_table("catalog_upload_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_upload_keys_company_id"), ["company_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("catalog_upload_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_upload_keys_company_id"))

    op.drop_table("catalog_upload_keys")
    with op.batch_alter_table("catalog_variants", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_variants_company_product")
        batch_op.drop_index(batch_op.f("ix_catalog_variants_company_id"))

    op.drop_table("catalog_variants")
    with op.batch_alter_table("catalog_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_uploads_company_id"))
        batch_op.drop_index("ix_catalog_uploads_company_created")

    op.drop_table("catalog_uploads")
    with op.batch_alter_table("catalog_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_products_company_id"))

    op.drop_table("catalog_products")
