"""What a user merge does to subscriptions (found by the identity area's hook loader).

Both users may hold the same (type, channel). The subscription changed last is the person's
latest decision, so it is kept (the survivor's on a tie); the other one's consent records move
to it, so the history is complete, and the other row is dropped before the generic re-pointing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from heedful.identity.service import on_merge
from heedful.storage.models.subscriptions import Subscription
from heedful.subscriptions import repository


@on_merge
def keep_latest_subscription(
    session: Session, company_id: int, survivor_id: int, merged_id: int
) -> None:
    rows = repository.subscriptions_of(session, company_id, [survivor_id, merged_id])
    by_key: dict[tuple[str, str], dict[int, Subscription]] = {}
    for row in rows:
        by_key.setdefault((row.type, row.channel), {})[row.user_id] = row
    for pair in by_key.values():
        if len(pair) < 2:
            continue
        survivor_row, merged_row = pair[survivor_id], pair[merged_id]
        merged_is_newer = merged_row.updated_at > survivor_row.updated_at
        keep, drop = (merged_row, survivor_row) if merged_is_newer else (survivor_row, merged_row)
        repository.move_consent_records(session, company_id, drop.id, keep.id)
        repository.delete_subscription(session, company_id, drop.id)
