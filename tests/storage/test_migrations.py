from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from heedful.runtime import Runtime
from heedful.storage import migrate
from heedful.storage.db import Database
from heedful.storage.models import Base
from tests.factories import make_tenant
from tests.storage.schema import real_foreign_keys


def test_migrations_build_the_schema_from_empty(db: Database) -> None:
    migrate.downgrade(db.engine, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

    migrate.upgrade(db.engine)

    state = migrate.status(db.engine)
    assert state.applied == state.heads and state.pending == []
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())


# Foreign keys SQLite can only add to an existing table in a column's definition (rebuilding a
# referenced table would cascade-delete its children), where SQLAlchemy's reflection reads
# neither their name nor their ON DELETE: compared through PRAGMA foreign_key_list instead.
COLUMN_LEVEL_SQLITE_FKS = {("webhooks", "application_id", "applications", "CASCADE")}


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    if db.dialect == "sqlite":
        diff = [change for change in diff if not _column_level_fk(change)]
        for table, column, parent, on_delete in COLUMN_LEVEL_SQLITE_FKS:
            real = real_foreign_keys(db.engine, table)
            assert real.get(((column,), parent)) == on_delete, (table, column)

    assert diff == [], "models and migrations disagree; add a migration"


def _column_level_fk(change: Any) -> bool:
    if not isinstance(change, tuple) or change[0] not in ("add_fk", "remove_fk"):
        return False
    fk = change[1]
    (column,) = fk.column_keys
    return any((fk.table.name, column) == known[:2] for known in COLUMN_LEVEL_SQLITE_FKS)


def test_rebuilding_messages_for_never_reused_ids_keeps_rows_and_foreign_keys(
    db: Database, runtime: Runtime
) -> None:
    migrate.downgrade(db.engine, "messaging_0001")
    company_id = make_tenant(runtime).company.id
    with db.engine.begin() as conn:
        user_id = conn.execute(
            text(
                "INSERT INTO users (company_id, created_at) VALUES (:c, '2026-01-01') RETURNING id"
            ),
            {"c": company_id},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO messages (company_id, user_id, direction, channel, type, language,"
                " address, body, status, attempts, created_at) VALUES (:c, :u, 'outbound',"
                " 'EMAIL', 'WELCOME', 'en', 'a@b.c', 'Hi', 'sent', 1, '2026-01-01')"
            ),
            {"c": company_id, "u": user_id},
        )

    migrate.upgrade(db.engine)

    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT address FROM messages")).scalars().all() == ["a@b.c"]
        conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})
        assert conn.execute(text("SELECT count(*) FROM messages")).scalar() == 0  # cascaded


def test_webhooks_owned_by_apps_keeps_every_webhook_and_delivery(
    db: Database, runtime: Runtime
) -> None:
    migrate.downgrade(db.engine, "webhooks_0001")
    company_id = make_tenant(runtime).company.id
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO webhooks (id, company_id, url, events, type, signing_key,"
                " created_at, updated_at, consecutive_failures) VALUES (7, :c,"
                " 'https://x.test/h', '[\"sms.sent\"]', 'INSTALLED', 'k', '2026-01-01',"
                " '2026-01-01', 0)"
            ),
            {"c": company_id},
        )
        conn.execute(
            text(
                "INSERT INTO webhook_deliveries (company_id, webhook_id, public_id, event_type,"
                " body, state, attempts, created_at) VALUES (:c, 7, 'd-1', 'sms.sent', '{}',"
                " 'pending', 0, '2026-01-01')"
            ),
            {"c": company_id},
        )

    migrate.upgrade(db.engine)

    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT application_id FROM webhooks")).all() == [(None,)]
        assert conn.execute(text("SELECT public_id FROM webhook_deliveries")).all() == [("d-1",)]


def test_sqlite_runs_in_wal_with_foreign_keys(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own with no tables: a new SQLite file, or a new PostgreSQL schema."""
    if not database_url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"empty_{uuid.uuid4().hex[:12]}"
    admin = Database(database_url)
    with admin.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# Imports first, then migrates at the agreed moment, so that both processes upgrade at once.
# (Processes, not threads: Alembic's `context` is process-global.)
_MIGRATE_AT = """
import sys, time
from heedful.storage import migrate
from heedful.storage.db import Database
database = Database(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
migrate.upgrade(database.engine)
"""


def test_two_processes_migrating_one_empty_database_at_once_both_succeed(
    empty_database_url: str,
) -> None:
    """`heedful serve` and `heedful worker` migrate at start; started together on a new
    database, each one's upgrade must wait for the other's instead of failing on its tables."""
    at = str(time.time() + 3)  # time enough for both to import heedful
    command = [sys.executable, "-c", _MIGRATE_AT, empty_database_url, at]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    starts = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outcomes = [(start.wait(timeout=120), start.communicate()[1].decode()) for start in starts]

    assert [code for code, _ in outcomes] == [0, 0], "\n".join(err for _, err in outcomes)
    database = Database(empty_database_url)
    try:
        state = migrate.status(database.engine)
        assert state.applied == state.heads
        assert set(Base.metadata.tables) <= set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
