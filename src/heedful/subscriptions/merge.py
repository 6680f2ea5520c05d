"""What a user merge does to subscriptions (found by the identity area's hook loader).

Both users may hold the same (type, channel): two phones, or two emails, each with its own
consent. One row stays, and it is the one with the least consent: an opt-out beats a pending
opt-in, which beats a confirmed one. The user's subscription covers every phone (or email) the
user holds, so keeping the other row would make a phone that said STOP (or never replied "Y")
eligible again. Between equal statuses the one changed last is kept (the survivor's on a tie).
The other row's consent records move to the kept one, so the history is complete, and it is
dropped before the generic re-pointing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from heedful.identity.service import on_merge
from heedful.storage.models.subscriptions import Subscription
from heedful.subscriptions import repository
from heedful.subscriptions.service import PENDING, SUBSCRIBED, UNSUBSCRIBED

# Lower is less consent, and wins.
_CONSENT_RANK = {UNSUBSCRIBED: 0, PENDING: 1, SUBSCRIBED: 2}


@on_merge
def keep_least_consent(session: Session, company_id: int, survivor_id: int, merged_id: int) -> None:
    rows = repository.subscriptions_of(session, company_id, [survivor_id, merged_id])
    by_key: dict[tuple[str, str], dict[int, Subscription]] = {}
    for row in rows:
        by_key.setdefault((row.type, row.channel), {})[row.user_id] = row
    for pair in by_key.values():
        if len(pair) < 2:
            continue
        survivor_row, merged_row = pair[survivor_id], pair[merged_id]
        keep_merged = _precedence(merged_row) > _precedence(survivor_row)
        keep, drop = (merged_row, survivor_row) if keep_merged else (survivor_row, merged_row)
        repository.move_consent_records(session, company_id, drop.id, keep.id)
        repository.delete_subscription(session, company_id, drop.id)


def _precedence(row: Subscription) -> tuple[int, datetime]:
    """Which row a merge keeps: the higher. Least consent first, then the latest change."""
    return (-_CONSENT_RANK.get(row.status, 0), row.updated_at)
