"""catalog: upload keys keyed by (company_id, upload_id, key_hash), no separate company index

SQLite's planner chose the one-column company_id index for id lookups with long IN lists,
scanning every id row of the company per chunk. The table only holds ids of uploads being
validated, so it is rebuilt empty: an upload caught mid-validation by this upgrade loses the
ids recorded so far (duplicates between its earlier and later lines go unreported).

Revision ID: catalog_0002
Revises: catalog_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "catalog_0002"
down_revision = "catalog_0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _create(primary_key: tuple[str, ...]) -> None:
    op.create_table(
        "catalog_upload_keys",
        sa.Column("upload_id", _ID, nullable=False),
        sa.Column("key_hash", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("company_id", _ID, nullable=False),
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
        sa.PrimaryKeyConstraint(*primary_key, name=op.f("pk_catalog_upload_keys")),
    )


def upgrade() -> None:
    op.drop_table("catalog_upload_keys")
    _create(("company_id", "upload_id", "key_hash"))


def downgrade() -> None:
    op.drop_table("catalog_upload_keys")
    _create(("upload_id", "key_hash"))
    with op.batch_alter_table("catalog_upload_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_upload_keys_company_id"), ["company_id"], unique=False
        )
