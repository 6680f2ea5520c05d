"""Steering PostgreSQL's planner in tests: plans it picks only on some table statistics."""

from __future__ import annotations

from sqlalchemy import text

from heedful.storage.db import Database


def force_rescan_plan(db: Database, table: str) -> None:
    """Make PostgreSQL believe `table` holds one row, as it may after an autovacuum of a
    nearly empty table: it then plans `WHERE id IN (subquery)` as a nested loop that runs
    the subquery again for every row. (Updating pg_class needs a superuser, which the test
    databases have.) Does nothing on SQLite, which has no such plan."""
    if db.dialect != "postgresql":
        return
    with db.transaction() as session:
        session.execute(
            text("UPDATE pg_class SET reltuples = 1, relpages = 1 WHERE relname = :table"),
            {"table": table},
        )
