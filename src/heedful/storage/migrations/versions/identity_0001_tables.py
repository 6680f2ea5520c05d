"""identity graph: users, user identifiers, user merges

Revision ID: identity_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import heedful.storage.models.base

revision = "identity_0001"
down_revision = "0001"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "created_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_users_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_company_id"), ["company_id"], unique=False)

    op.create_table(
        "user_identifiers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column(
            "created_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_user_identifiers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_identifiers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_identifiers")),
        sa.UniqueConstraint(
            "company_id",
            "kind",
            "name",
            "value",
            name=op.f("uq_user_identifiers_company_id_kind_name_value"),
        ),
    )
    with op.batch_alter_table("user_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_identifiers_company_value", ["company_id", "value"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_user_identifiers_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_merges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "survivor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("merged_user_id", sa.BigInteger(), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.Column(
            "merged_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_user_merges_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"], ["users.id"], name=op.f("fk_user_merges_survivor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_merges")),
    )
    with op.batch_alter_table("user_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_merges_company_id"), ["company_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_user_merges_merged_user_id"), ["merged_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_user_merges_survivor_id"), ["survivor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("user_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_merges_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_user_merges_merged_user_id"))
        batch_op.drop_index(batch_op.f("ix_user_merges_company_id"))

    op.drop_table("user_merges")
    with op.batch_alter_table("user_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_identifiers_user_id"))
        batch_op.drop_index("ix_user_identifiers_company_value")

    op.drop_table("user_identifiers")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_company_id"))

    op.drop_table("users")
