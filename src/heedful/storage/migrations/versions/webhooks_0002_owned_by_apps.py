"""webhooks: each webhook belongs to the app that made it

`webhooks.application_id` (FK to `applications`, ON DELETE CASCADE): only that app lists,
changes or deletes the webhook, and uninstalling the app deletes it. Existing webhooks keep
null, which every app of their company sees, as before.

On SQLite the column is added in place (`ALTER TABLE ... ADD COLUMN ... REFERENCES`): a batch
rebuild would drop the old table, and with foreign keys on that deletes every delivery.

Revision ID: webhooks_0002
Revises: webhooks_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "webhooks_0002"
down_revision = "webhooks_0001"
branch_labels = None
depends_on = None

_FK = "fk_webhooks_application_id_applications"
_INDEX = "ix_webhooks_application_id"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        columns = {column["name"] for column in sa.inspect(bind).get_columns("webhooks")}
        if "application_id" not in columns:  # else kept by a downgrade (below)
            op.execute(
                "ALTER TABLE webhooks ADD COLUMN application_id INTEGER"
                f" CONSTRAINT {_FK} REFERENCES applications (id) ON DELETE CASCADE"
            )
    else:
        op.add_column("webhooks", sa.Column("application_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(
            _FK, "webhooks", "applications", ["application_id"], ["id"], ondelete="CASCADE"
        )
    op.create_index(_INDEX, "webhooks", ["application_id"])


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="webhooks")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column only by rebuilding the table, and dropping the old copy would
        # delete every delivery (foreign keys cannot be turned off inside the migration's
        # transaction). The column stays, unused by the older code; an upgrade finds it.
        return
    op.drop_constraint(_FK, "webhooks", type_="foreignkey")
    op.drop_column("webhooks", "application_id")
