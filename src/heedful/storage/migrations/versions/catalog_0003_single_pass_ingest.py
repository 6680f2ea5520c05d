"""catalog: validation state in memory, rejected lines on the upload, leaner product indexes

Validation now keeps the ids it has seen in the worker's memory (and starts over if that
worker is lost), so `catalog_upload_keys` goes; the lines it rejected are stored on the
upload for the ingest phase, with the worker process that holds the state. The one-column
company indexes of products and variants duplicated the leading column of their unique
(company_id, id) indexes and slowed every ingested row. An upload caught mid-validation by
this upgrade restarts its validation.

Revision ID: catalog_0003
Revises: catalog_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "catalog_0003"
down_revision = "catalog_0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.drop_table("catalog_upload_keys")
    with op.batch_alter_table("catalog_uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rejected_lines", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("processed_by", sa.String(length=160), nullable=True))
    with op.batch_alter_table("catalog_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_products_company_id"))
    with op.batch_alter_table("catalog_variants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_variants_company_id"))
    # An upload mid-validation lost its recorded ids with the table: validate it again.
    op.execute(
        'UPDATE catalog_uploads SET "offset" = 0, line_num = 0, products_received = 0, '
        "products_processed = 0 WHERE phase = 'validate' AND status = 'validating'"
    )


def downgrade() -> None:
    with op.batch_alter_table("catalog_variants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_variants_company_id"), ["company_id"], unique=False
        )
    with op.batch_alter_table("catalog_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_products_company_id"), ["company_id"], unique=False
        )
    with op.batch_alter_table("catalog_uploads", schema=None) as batch_op:
        batch_op.drop_column("processed_by")
        batch_op.drop_column("rejected_lines")
    op.create_table(
        "catalog_upload_keys",
        sa.Column("company_id", _ID, nullable=False),
        sa.Column("upload_id", _ID, nullable=False),
        sa.Column("key_hash", sa.BigInteger(), autoincrement=False, nullable=False),
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
        sa.PrimaryKeyConstraint(
            "company_id", "upload_id", "key_hash", name=op.f("pk_catalog_upload_keys")
        ),
    )
