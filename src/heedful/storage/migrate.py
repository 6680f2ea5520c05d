"""Run Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


# Any fixed number: serialises concurrent `serve`/`worker` start-ups migrating one PostgreSQL.
_MIGRATION_LOCK_KEY = 0x68656564


def upgrade(engine: Engine, revision: str = "heads") -> None:
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), revision)
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        try:
            command.upgrade(alembic_config(engine), revision)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions(engine: Engine) -> set[str]:
    """Each area keeps its own branch of migrations (off the foundation), so there are
    several heads; `upgrade` applies them all."""
    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
