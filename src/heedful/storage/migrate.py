"""Run Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[str]  # the latest applied revision of each branch
    heads: list[str]  # the latest revision of each branch

    @property
    def pending(self) -> list[str]:
        return sorted(set(self.heads) - set(self.applied))


def status(engine: Engine) -> MigrationStatus:
    """What is applied, per branch, compared with what exists.

    Not alembic's version table as it stands: a revision that another one `depends_on`
    (identity_0001 for events_0001) is dropped from that table once its dependant is applied,
    though it is the head of its own branch. Here it counts as applied, so a database that
    `upgrade` brought up to date has applied == heads.
    """
    script = ScriptDirectory.from_config(alembic_config(engine))
    stored = tuple(current_revisions(engine))
    applied = list(script.iterate_revisions(stored, "base")) if stored else []
    parents: set[str] = set()
    for revision in applied:
        down = revision.down_revision
        parents.update((down,) if isinstance(down, str) else down or ())
    tips = sorted({revision.revision for revision in applied} - parents)
    return MigrationStatus(tips, sorted(head_revisions(engine)))


def head_revisions(engine: Engine) -> set[str]:
    """Each area keeps its own branch of migrations (off the foundation), so there are
    several heads; `upgrade` applies them all."""
    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
