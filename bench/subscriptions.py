"""Subscriptions benchmark: subscribes/s and message sends/s, against identity resolution.

    .venv/bin/python bench/subscriptions.py [--users 300] [--rounds 3] [--database-url URL]

In-process, through the service functions (no HTTP), one transaction per call, on a fresh SQLite
file (or the given database, whose tables must be empty). Rounds interleave:

1. baseline: `identity.resolve` of a new phone (creates a user and an identifier);
2. `subscriptions.subscribe` of a new phone through the dev company's double-opt-in source
   (resolve + subscription + consent record + outbox message + send job);
3. the worker sending those "Reply Y" texts through the sandbox (`sms.sent` emitted, one
   listening webhook, so one delivery row per text).

Medians over the rounds are printed with their ratio to the baseline.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

from heedful.config import Settings
from heedful.core.clock import SystemClock
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.oauth.bootstrap import ensure_development_setup
from heedful.runtime import Runtime, build_job_registry
from heedful.storage import migrate
from heedful.storage.db import Database
from heedful.subscriptions import schemas
from heedful.subscriptions import service as subscriptions
from heedful.webhooks import service as webhooks

_numbers = itertools.count(1)


def new_phone() -> str:
    return f"+1311555{next(_numbers):04d}"


def timed(count: int, fn: object) -> float:
    assert callable(fn)
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    db = Database(url)
    migrate.upgrade(db.engine)
    clock = SystemClock()
    runtime = Runtime(settings, db, clock, build_job_registry(settings))
    with db.transaction() as session:
        company_id = ensure_development_setup(session, clock).company.id
        webhooks.create_webhook(
            session, clock, company_id, "http://127.0.0.1:9/none", ["sms.sent"], development=True
        )
        source = subscriptions.SIGNUP_SOURCE.encode(
            subscriptions.list_signup_sources(session, company_id)[0].id
        )

    def resolve() -> None:
        with db.transaction() as session:
            identity.resolve(session, clock, company_id, [ident.phone(new_phone(), "phone")])

    def subscribe() -> None:
        body = schemas.AddSubscriptionsRequestDto(
            user=schemas.UserDto1(phone=new_phone()), signUpSourceId=source
        )
        with db.transaction() as session:
            subscriptions.subscribe(session, clock, company_id, body)

    worker = runtime.worker()
    results: dict[str, list[float]] = {"resolve": [], "subscribe": [], "send": []}
    for _ in range(args.rounds):
        results["resolve"].append(timed(args.users, resolve))
        results["subscribe"].append(timed(args.users, subscribe))
        started = time.perf_counter()
        sent = worker.run_until_idle()
        results["send"].append(sent / (time.perf_counter() - started))
    base = statistics.median(results["resolve"])
    print(f"database: {db.dialect}, {args.users} per round, {args.rounds} rounds")
    for name, label in (
        ("resolve", "identity.resolve (baseline)"),
        ("subscribe", "subscribe (double opt-in)"),
        ("send", "worker: send + sms.sent"),
    ):
        rounds = ", ".join(f"{value:.0f}" for value in results[name])
        median = statistics.median(results[name])
        print(f"{label:32} {median:8.0f}/s  ratio {median / base:.2f}  (rounds: {rounds})")
    db.dispose()


if __name__ == "__main__":
    main()
