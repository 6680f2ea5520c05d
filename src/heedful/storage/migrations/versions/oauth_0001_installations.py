"""oauth: installations, authorization codes, access_tokens.installation_id

Revision ID: oauth_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import heedful.storage.models.base

revision = "oauth_0001"
down_revision = "0001"
branch_labels = ("oauth",)
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _moment(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(
        name, heedful.storage.models.base.UTCDateTime(timezone=True), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "installations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", BIG_ID, nullable=False),
        sa.Column("application_id", BIG_ID, nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _moment("created_at"),
        _moment("updated_at"),
        _moment("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_installations_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_installations_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installations")),
        sa.UniqueConstraint(
            "company_id",
            "application_id",
            name=op.f("uq_installations_company_id_application_id"),
        ),
    )
    with op.batch_alter_table("installations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_installations_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_installations_company_id"), ["company_id"], unique=False
        )

    op.create_table(
        "authorization_codes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("company_id", BIG_ID, nullable=False),
        sa.Column("application_id", BIG_ID, nullable=False),
        sa.Column("installation_id", BIG_ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _moment("created_at"),
        _moment("expires_at"),
        _moment("used_at", nullable=True),
        sa.Column("access_token_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["access_token_id"],
            ["access_tokens.id"],
            name=op.f("fk_authorization_codes_access_token_id_access_tokens"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_authorization_codes_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_authorization_codes_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name=op.f("fk_authorization_codes_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_authorization_codes_code_hash")),
    )
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorization_codes_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_authorization_codes_installation_id"), ["installation_id"], unique=False
        )

    # Batch mode: SQLite cannot add a foreign key to an existing table in place.
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("installation_id", BIG_ID, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_access_tokens_installation_id"), ["installation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_access_tokens_installation_id_installations"),
            "installations",
            ["installation_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_access_tokens_installation_id_installations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_access_tokens_installation_id"))
        batch_op.drop_column("installation_id")

    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_codes_installation_id"))
        batch_op.drop_index(batch_op.f("ix_authorization_codes_company_id"))
    op.drop_table("authorization_codes")

    with op.batch_alter_table("installations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_installations_company_id"))
        batch_op.drop_index(batch_op.f("ix_installations_application_id"))
    op.drop_table("installations")
