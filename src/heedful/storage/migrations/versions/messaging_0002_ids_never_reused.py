"""messaging: message ids are never reused on SQLite

Message ids are public (webhook payloads, Message-ID headers) and name the message in its
send job. SQLite gives a new row the highest id in use plus one, so once erasure deleted the
newest message its id went to the next. The table is rebuilt with AUTOINCREMENT, rows and
indexes kept (nothing references `messages`, so dropping the old copy cascades nowhere).
PostgreSQL's sequences never reuse an id: nothing changes there.

Revision ID: messaging_0002
Revises: messaging_0001
"""

from __future__ import annotations

from alembic import op

revision = "messaging_0002"
down_revision = "messaging_0001"
branch_labels = None
depends_on = None


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "messages", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
