"""What a user merge does to custom attributes (found by the identity area's hook loader).

Both users may hold the same attribute; the survivor keeps the value written last (the
survivor's on a tie) and the other row is dropped before the generic re-pointing moves the rest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from heedful.attributes import repository
from heedful.identity.service import on_merge


@on_merge
def keep_latest_values(session: Session, company_id: int, survivor_id: int, merged_id: int) -> None:
    rows = repository.rows_of_users(session, company_id, [survivor_id, merged_id])
    by_definition: dict[int, list[tuple[int, int, datetime]]] = {}
    for row_id, user_id, definition_id, updated_at in rows:
        by_definition.setdefault(definition_id, []).append((row_id, user_id, updated_at))
    drop: list[int] = []
    for pair in by_definition.values():
        if len(pair) < 2:
            continue
        survivor_row = next(row for row in pair if row[1] == survivor_id)
        merged_row = next(row for row in pair if row[1] == merged_id)
        newer_is_merged = merged_row[2] > survivor_row[2]
        drop.append(survivor_row[0] if newer_is_merged else merged_row[0])
    repository.delete_rows(session, company_id, drop)
