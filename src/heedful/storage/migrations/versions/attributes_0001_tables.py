"""custom attributes: definitions and user values

Revision ID: attributes_0001
Revises: identity_0001 (its tables reference users)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import heedful.storage.models.base

revision = "attributes_0001"
down_revision = "identity_0001"
branch_labels = ("attributes",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribute_definitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_attribute_definitions_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribute_definitions")),
        sa.UniqueConstraint(
            "company_id", "name", name=op.f("uq_attribute_definitions_company_id_name")
        ),
    )
    op.create_table(
        "user_attributes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "definition_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column(
            "updated_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_user_attributes_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["attribute_definitions.id"],
            name=op.f("fk_user_attributes_definition_id_attribute_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_attributes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_attributes")),
        sa.UniqueConstraint(
            "user_id", "definition_id", name=op.f("uq_user_attributes_user_id_definition_id")
        ),
    )
    with op.batch_alter_table("user_attributes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_attributes_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_user_attributes_definition_id"), ["definition_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("user_attributes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_attributes_definition_id"))
        batch_op.drop_index(batch_op.f("ix_user_attributes_company_id"))

    op.drop_table("user_attributes")
    op.drop_table("attribute_definitions")
