"""The foreign keys a database really has, for tests that compare them with the models."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

ForeignKeyKey = tuple[tuple[str, ...], str]  # (constrained columns, referred table)


def real_foreign_keys(engine: Engine, table: str) -> dict[ForeignKeyKey, str]:
    """Each foreign key of `table` and its ON DELETE action (upper case, "" for none).

    On SQLite this reads `PRAGMA foreign_key_list`: SQLAlchemy's reflection does not see the
    ON DELETE of a foreign key declared in a column's definition (how a migration must add
    one to an existing table there)."""
    if engine.dialect.name != "sqlite":
        return {
            (tuple(fk["constrained_columns"]), fk["referred_table"]): str(
                fk.get("options", {}).get("ondelete") or ""
            ).upper()
            for fk in inspect(engine).get_foreign_keys(table)
        }
    with engine.connect() as conn:
        # A PRAGMA answers from the connection's cached schema, which a pooled connection may
        # hold from before a migration; reading sqlite_master checks it is current.
        conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
        rows = conn.exec_driver_sql(f"PRAGMA foreign_key_list({table})").all()
    columns: dict[int, list[str]] = {}
    found: dict[int, tuple[str, str]] = {}
    for fk_id, _seq, parent, column, _to, _on_update, on_delete, _match in rows:
        columns.setdefault(fk_id, []).append(column)
        found[fk_id] = (parent, "" if on_delete == "NO ACTION" else on_delete.upper())
    return {(tuple(columns[i]), parent): action for i, (parent, action) in found.items()}
