"""Privacy benchmark: the cost of one complete erasure against deleting the user's rows alone.

    .venv/bin/python bench/privacy.py [--users 2000] [--subjects 20] [--database-url URL]

Builds one company on a fresh SQLite file (or the given database, whose tables must be empty)
with `--users` users, each with a phone and an email, 3 events, one webhook delivery whose body
names them and one queued job naming them. Then, alternating, for `--subjects` pairs of users:

1. baseline: `erasure.delete_tree` on the user alone (the foreign-key walk: identifiers,
   attributes, events, merges, subscriptions, messages, then the user), one transaction;
2. `erasure.erase` for the next user by phone and email: the same walk plus the scrubbers
   (delivery bodies, attempt answers, job payloads, merge records, addresses), one transaction.

Medians in milliseconds are printed with their ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, insert

from heedful.core.clock import FrozenClock
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.oauth import service as oauth
from heedful.privacy import erasure
from heedful.storage import migrate
from heedful.storage.db import Database
from heedful.storage.models import Base, Job
from heedful.storage.models.events import Event
from heedful.storage.models.webhooks import Webhook, WebhookDelivery


def phone(n: int) -> ident.Identifier:
    return ident.Identifier(ident.PHONE, f"+1311555{n:04d}")


def email(n: int) -> ident.Identifier:
    return ident.Identifier(ident.EMAIL, f"person{n}@example.com")


def populate(db: Database, clock: FrozenClock, users: int) -> tuple[int, list[int]]:
    with db.transaction() as session:
        company_id = oauth.create_company(session, clock, "Bench").company.id
        hook = Webhook(
            company_id=company_id,
            url="http://127.0.0.1:9/hook",
            events=["custom_attribute.set"],
            type="INSTALLED",
            signing_key="k",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(hook)
        session.flush()
        ids = [
            identity.resolve(session, clock, company_id, [phone(n), email(n)]).user_id
            for n in range(users)
        ]
        now = clock.now()
        session.execute(
            insert(Event),
            [
                {
                    "company_id": company_id,
                    "user_id": user_id,
                    "kind": "custom",
                    "type": "Viewed",
                    "properties": {"n": k},
                    "occurred_at": now,
                    "received_at": now,
                    "journey_eligible": True,
                }
                for user_id in ids
                for k in range(3)
            ],
        )
        session.execute(
            insert(WebhookDelivery),
            [
                {
                    "company_id": company_id,
                    "webhook_id": hook.id,
                    "public_id": str(uuid.uuid4()),
                    "event_type": "custom_attribute.set",
                    "body": json.dumps(
                        {
                            "type": "custom_attribute.set",
                            "subscriber": {
                                "external_id": user_id,
                                "phone": phone(n).value,
                                "email": email(n).value,
                            },
                        },
                        separators=(",", ":"),
                    ),
                    "state": "succeeded",
                    "attempts": 1,
                    "created_at": now,
                }
                for n, user_id in enumerate(ids)
            ],
        )
        session.execute(
            insert(Job),
            [
                {
                    "company_id": company_id,
                    "kind": "bench.later",
                    "payload": {"user_id": user_id},
                    "state": "queued",
                    "attempts": 0,
                    "run_at": now + timedelta(days=1),
                    "created_at": now,
                }
                for user_id in ids
            ],
        )
    return company_id, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    db = Database(url)
    migrate.upgrade(db.engine)
    clock = FrozenClock(datetime.now(UTC))
    started = time.perf_counter()
    company_id, ids = populate(db, clock, args.users)
    print(f"{db.dialect}: {args.users} users populated in {time.perf_counter() - started:.1f} s")

    users = Base.metadata.tables["users"]
    baseline: list[float] = []
    full: list[float] = []
    removed: Counter[str] = Counter()
    for pair in range(args.subjects):
        plain_id, n = ids[2 * pair], 2 * pair + 1
        t0 = time.perf_counter()
        with db.transaction() as session:
            where = and_(users.c.company_id == company_id, users.c.id == plain_id)
            erasure.delete_tree(session, company_id, users, where, Counter())
        t1 = time.perf_counter()
        with db.transaction() as session:
            report = erasure.erase(session, clock.now(), company_id, [phone(n), email(n)])
        t2 = time.perf_counter()
        baseline.append((t1 - t0) * 1000)
        full.append((t2 - t1) * 1000)
        removed.update(report.deleted)

    base, complete = statistics.median(baseline), statistics.median(full)
    print(f"baseline (foreign-key walk only): median {base:.1f} ms")
    print(f"complete erasure:                 median {complete:.1f} ms ({complete / base:.2f}x)")
    print(f"removed by the {args.subjects} erasures: {dict(sorted(removed.items()))}")
    db.dispose()


if __name__ == "__main__":
    main()
