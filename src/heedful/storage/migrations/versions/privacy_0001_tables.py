"""privacy: delete requests

Revision ID: privacy_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import heedful.storage.models.base

revision = "privacy_0001"
down_revision = "0001"
branch_labels = ("privacy",)
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(
        name, heedful.storage.models.base.UTCDateTime(timezone=True), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", _ID, nullable=False),
        sa.Column("company_id", _ID, nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("masked_phone", sa.String(length=32), nullable=True),
        sa.Column("masked_email", sa.String(length=330), nullable=True),
        sa.Column("masked_client_user_id", sa.String(length=32), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("client_user_id_hash", sa.String(length=64), nullable=True),
        sa.Column("pending_phone", sa.String(length=32), nullable=True),
        sa.Column("pending_email", sa.String(length=320), nullable=True),
        sa.Column("pending_client_user_id", sa.String(length=100), nullable=True),
        sa.Column("request_msg", sa.Text(), nullable=True),
        sa.Column("processed", sa.Boolean(), nullable=False),
        _when("requested_at", False),
        _when("due_at", False),
        _when("processing_started_at", True),
        _when("processing_ended_at", True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_privacy_requests_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
        sa.UniqueConstraint("public_id", name=op.f("uq_privacy_requests_public_id")),
    )
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_privacy_requests_company_requested", ["company_id", "id"], unique=False
        )
        for column in ("company_id", "phone_hash", "email_hash", "client_user_id_hash"):
            batch_op.create_index(
                batch_op.f(f"ix_privacy_requests_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        for column in ("company_id", "phone_hash", "email_hash", "client_user_id_hash"):
            batch_op.drop_index(batch_op.f(f"ix_privacy_requests_{column}"))
        batch_op.drop_index("ix_privacy_requests_company_requested")
    op.drop_table("privacy_requests")
