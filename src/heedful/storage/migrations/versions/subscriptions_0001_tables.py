"""subscriptions: subscriptions, consent records

Revision ID: subscriptions_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import heedful.storage.models.base

revision = "subscriptions_0001"
down_revision = "0001"
branch_labels = ("subscriptions",)
depends_on = "identity_0001"


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "signup_source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column(
            "created_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "confirmed_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "unsubscribed_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_subscriptions_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signup_source_id"],
            ["signup_sources.id"],
            name=op.f("fk_subscriptions_signup_source_id_signup_sources"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "company_id",
            "user_id",
            "type",
            "channel",
            name=op.f("uq_subscriptions_company_id_user_id_type_channel"),
        ),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriptions_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscriptions_signup_source_id"), ["signup_source_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subscriptions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "consent_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "company_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "subscription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("channel_source", sa.String(length=16), nullable=False),
        sa.Column(
            "signup_source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("keyword", sa.String(length=32), nullable=True),
        sa.Column(
            "occurred_at", heedful.storage.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_consent_records_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signup_source_id"],
            ["signup_sources.id"],
            name=op.f("fk_consent_records_signup_source_id_signup_sources"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_consent_records_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_consent_records_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_records_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            "ix_consent_records_company_user", ["company_id", "user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consent_records_subscription_id"), ["subscription_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consent_records_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_user_id"))
        batch_op.drop_index(batch_op.f("ix_consent_records_subscription_id"))
        batch_op.drop_index("ix_consent_records_company_user")
        batch_op.drop_index(batch_op.f("ix_consent_records_company_id"))
    op.drop_table("consent_records")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_user_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_signup_source_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_company_id"))
    op.drop_table("subscriptions")
