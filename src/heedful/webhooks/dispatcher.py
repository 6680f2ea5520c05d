"""The delivery engine: claims due deliveries, POSTs them signed, records every attempt.

Deliveries are rows in `webhook_deliveries`, written by `emit` in the emitting transaction, so
the table is this area's durable queue. A dispatcher claims due rows with one
`UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING` (two dispatchers on
PostgreSQL never take the same row), sends them concurrently over one pooled HTTP client with no
transaction open (a slow receiver never holds a database lock), then records the outcomes of a
whole batch in one short transaction. A claim is a lease: a dispatcher that dies mid-flight
leaves `sending` rows whose lease runs out, and the next claim takes them again (at-least-once;
receivers dedupe on `x-heedful-delivery-id`).

Failures (non-2xx, timeout, connection error, refused target) are retried with exponential
backoff and jitter until the retry window (3 days by default) is used up; a webhook whose
deliveries keep failing is disabled. A disabled or deleted webhook gets nothing more, pending
retries included.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import math
import os
import random
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from heedful.config import MAX_SECONDS, Settings
from heedful.core.clock import Clock
from heedful.storage.db import Database
from heedful.storage.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery
from heedful.webhooks import wakeup
from heedful.webhooks.guard import TargetPolicy, TargetRefused
from heedful.webhooks.repository import (
    CANCELLED,
    FAILED,
    PENDING,
    SENDING,
    SUCCEEDED,
    cancel_open_deliveries,
)

log = logging.getLogger("heedful.webhooks")

SIGNATURE_HEADER = "x-attentive-hmac-sha256"
DELIVERY_ID_HEADER = "x-heedful-delivery-id"
USER_AGENT = "heedful-webhooks/1"
MAX_RESPONSE_BODY = 2048
MAX_ERROR_CHARS = 2000


def sign(signing_key: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the exact body bytes, keyed with the UTF-8 signing key."""
    return hmac.new(signing_key.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout: float = 10.0
    retry_base: float = 10.0
    retry_factor: float = 2.0
    retry_cap: float = 6 * 3600.0
    retry_window: float = 3 * 86400.0
    disable_after_failures: int = 100
    disable_after_seconds: float = 86400.0
    development: bool = True
    allow_hosts: tuple[str, ...] = ()
    concurrency: int = 16
    batch_size: int = 100
    poll_interval: float = 0.25

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            timeout=settings.webhook_timeout,
            retry_base=settings.webhook_retry_base,
            retry_factor=settings.webhook_retry_factor,
            retry_cap=settings.webhook_retry_cap,
            retry_window=settings.webhook_retry_window,
            disable_after_failures=settings.webhook_disable_after_failures,
            disable_after_seconds=settings.webhook_disable_after_seconds,
            development=settings.env == "development",
            allow_hosts=tuple(settings.webhook_allow_hosts),
            concurrency=settings.webhook_concurrency,
            batch_size=settings.webhook_batch_size,
            poll_interval=settings.webhook_poll_interval,
        )

    @property
    def lease(self) -> timedelta:
        """How long a claim holds. A claimed delivery may wait in the dispatcher's queue behind
        up to a batch of others, sent `concurrency` at a time, each taking up to `timeout`;
        then its own POST, plus room to record it. A lease of one POST let a live dispatcher's
        waiting deliveries be claimed again (by it or another) and sent twice."""
        rounds = math.ceil(self.batch_size / self.concurrency) + 1
        return timedelta(seconds=min(self.timeout * rounds, MAX_SECONDS) + 60)

    def retry_delay(self, failures: int, rng: random.Random) -> timedelta:
        """After `failures` failed attempts: up to base * factor**(failures-1), capped, with
        equal jitter (half fixed, half random) so a burst of failures spreads out."""
        try:
            ceiling = min(self.retry_cap, self.retry_base * self.retry_factor ** (failures - 1))
        except OverflowError:
            ceiling = self.retry_cap
        return timedelta(seconds=ceiling / 2 + rng.random() * ceiling / 2)


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    company_id: int
    webhook_id: int
    public_id: str
    url: str
    signing_key: str = field(repr=False)
    body: bytes
    attempt: int
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    outgoing: Outgoing
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    response_body: str | None

    @property
    def succeeded(self) -> bool:
        """A 2xx answer that arrived whole within the timeout (which covers the whole
        exchange): a 2xx whose body broke off or trickled past it is a failed attempt."""
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def default_dispatcher_name() -> str:
    return f"{socket.gethostname()[:100]}:{os.getpid()}:wh:{secrets.token_hex(4)}"


@dataclass
class Dispatcher:
    db: Database
    clock: Clock
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    name: str = field(default_factory=default_dispatcher_name)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.targets = TargetPolicy(self.policy.development, self.policy.allow_hosts)

    # --- entry points -------------------------------------------------------------------------

    def run_once(self) -> int:
        """Deliver one batch of due deliveries (all concurrently); returns how many were tried."""
        return asyncio.run(self.deliver_due())

    def run_until_idle(self, max_batches: int = 100) -> int:
        total = 0
        for _ in range(max_batches):
            tried = self.run_once()
            if tried == 0:
                break
            total += tried
        return total

    async def deliver_due(self) -> int:
        batch = self._claim(self.policy.batch_size)
        if not batch:
            return 0
        async with self._client() as client:
            outcomes = await asyncio.gather(*(self._post(client, item) for item in batch))
        self._record(outcomes)
        return len(batch)

    def run_forever(self, stop: threading.Event) -> None:
        """Deliver continuously until `stop` is set; in-flight POSTs finish before it returns."""
        asyncio.run(self._serve(stop))

    # --- the loop ---------------------------------------------------------------------------

    async def _serve(self, stop: threading.Event) -> None:
        """A pipeline: claims fill a local queue (a batch per transaction), up to `concurrency`
        POSTs run at once, and outcomes are recorded in batches by a background task, so
        neither database round trip stalls the sending."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def poke() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(wake.set)

        unsubscribe = wakeup.subscribe(poke)
        log.info("webhook dispatcher started", extra={"dispatcher": self.name})
        queue: deque[Outgoing] = deque()
        in_flight: set[asyncio.Task[Outcome]] = set()
        outcomes: list[Outcome] = []
        recorder: asyncio.Task[Any] | None = None
        batch = self.policy.batch_size
        dry_since: float | None = None
        try:
            async with self._client() as client:
                while True:
                    stopping = stop.is_set()
                    if stopping and queue:
                        await self._guarded(self._release, list(queue))
                        queue.clear()
                    # After a claim that found less than it asked for, the next waits for a
                    # wake-up (a commit here) or the poll interval (work from elsewhere).
                    may_claim = (
                        wake.is_set()
                        or dry_since is None
                        or loop.time() - dry_since >= self.policy.poll_interval
                    )
                    if not stopping and len(queue) <= batch // 2 and may_claim:
                        wake.clear()
                        wanted = batch - len(queue)
                        claimed = await self._guarded(self._claim, wanted) or []
                        queue.extend(claimed)
                        dry_since = loop.time() if len(claimed) < wanted else None
                    while queue and len(in_flight) < self.policy.concurrency:
                        item = queue.popleft()
                        in_flight.add(asyncio.create_task(self._post(client, item)))
                    done = {task for task in in_flight if task.done()}
                    in_flight -= done
                    outcomes.extend(task.result() for task in done)
                    if recorder is not None and recorder.done():
                        recorder = None
                    if outcomes and recorder is None:
                        recorder = asyncio.create_task(self._guarded(self._record, outcomes))
                        outcomes = []
                    if stopping and not in_flight and not outcomes:
                        break
                    if not done:
                        busy: set[asyncio.Task[Any]] = set(in_flight)
                        if recorder is not None:
                            busy.add(recorder)
                        await self._wait(busy, wake)
                if recorder is not None:
                    await recorder
        finally:
            unsubscribe()
            log.info("webhook dispatcher stopped", extra={"dispatcher": self.name})

    async def _wait(self, busy: set[asyncio.Task[Any]], wake: asyncio.Event) -> None:
        waker = asyncio.create_task(wake.wait())
        try:
            await asyncio.wait(
                {*busy, waker},
                timeout=self.policy.poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            waker.cancel()

    async def _guarded(self, fn: Any, arg: Any) -> Any:
        """Database work off the event loop; a failure is logged and the loop carries on (what
        was claimed and not recorded is taken again when its lease runs out)."""
        try:
            return await asyncio.to_thread(fn, arg)
        except Exception:
            log.exception("webhook dispatcher database error", extra={"dispatcher": self.name})
            await asyncio.sleep(self.policy.poll_interval)
            return None

    def _client(self) -> aiohttp.ClientSession:
        # aiohttp: on this project's 2-core machine it sends several times more requests per
        # second than httpx's pool at the same concurrency (see docs/performance.md).
        connector = aiohttp.TCPConnector(limit=self.policy.concurrency, use_dns_cache=False)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.policy.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),  # nothing carries over between receivers
            trust_env=False,
        )

    # --- claim, send, record ------------------------------------------------------------------

    def _claim(self, limit: int) -> list[Outgoing]:
        now = self.clock.now()
        claimable = or_(
            and_(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now),
            and_(WebhookDelivery.state == SENDING, WebhookDelivery.locked_until < now),
        )
        # Look before claiming (no write lock on SQLite): see jobs.worker's _claim.
        with self.db.read() as session:
            found = session.execute(select(WebhookDelivery.id).where(claimable).limit(1))
            if found.first() is None:
                return []
        due = (
            select(WebhookDelivery.id)
            .where(claimable)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")  # run once: see jobs.worker's module doc (CLAIM_ONCE)
        )
        claim = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(select(due.c.id)))
            .values(
                state=SENDING,
                locked_by=self.name,
                locked_until=now + self.policy.lease,
                attempts=WebhookDelivery.attempts + 1,
            )
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.company_id,
                WebhookDelivery.webhook_id,
                WebhookDelivery.public_id,
                WebhookDelivery.body,
                WebhookDelivery.attempts,
                WebhookDelivery.created_at,
            )
            .execution_options(synchronize_session=False)
        )
        with self.db.transaction() as session:
            rows = session.execute(claim).all()
            if not rows:
                return []
            # Unscoped on purpose: the dispatcher serves every company; each row carries its own.
            hooks = {
                hook.id: hook
                for hook in session.scalars(
                    select(Webhook).where(Webhook.id.in_({row.webhook_id for row in rows}))
                )
            }
            batch: list[Outgoing] = []
            gone: list[int] = []
            for row in sorted(rows, key=lambda r: r.id):
                hook = hooks.get(row.webhook_id)
                if hook is None or hook.deleted_at is not None or hook.disabled_at is not None:
                    gone.append(row.id)
                    continue
                batch.append(
                    Outgoing(
                        delivery_id=row.id,
                        company_id=row.company_id,
                        webhook_id=row.webhook_id,
                        public_id=row.public_id,
                        url=hook.url,
                        signing_key=hook.signing_key,
                        body=row.body.encode("utf-8"),
                        attempt=row.attempts,
                        created_at=row.created_at,
                    )
                )
            if gone:
                session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(gone), WebhookDelivery.locked_by == self.name)
                    .values(
                        state=CANCELLED,
                        finished_at=now,
                        locked_by=None,
                        locked_until=None,
                        next_attempt_at=None,
                    )
                    .execution_options(synchronize_session=False)
                )
        return batch

    def _release(self, items: list[Outgoing]) -> None:
        """Give back claimed deliveries that were never sent (on shutdown): due again at once."""
        with self.db.transaction() as session:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_([item.delivery_id for item in items]),
                    WebhookDelivery.state == SENDING,
                    WebhookDelivery.locked_by == self.name,
                )
                .values(
                    state=PENDING,
                    attempts=WebhookDelivery.attempts - 1,
                    locked_by=None,
                    locked_until=None,
                )
                .execution_options(synchronize_session=False)
            )

    async def _post(self, client: aiohttp.ClientSession, item: Outgoing) -> Outcome:
        attempted_at = self.clock.now()
        started = time.perf_counter()
        status: int | None = None
        body: str | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.policy.timeout):
                target = await self.targets.resolve(item.url)
                headers = {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(item.signing_key, item.body),
                    DELIVERY_ID_HEADER: item.public_id,
                    "User-Agent": USER_AGENT,
                    "Host": target.host_header,
                }
                async with client.post(
                    target.url,
                    data=item.body,
                    headers=headers,
                    allow_redirects=False,
                    server_hostname=target.server_name,
                ) as response:
                    status = response.status
                    body = await _read_prefix(response, MAX_RESPONSE_BODY)
        except TargetRefused as exc:
            error = f"refused: {exc}"
        except TimeoutError:
            error = f"timed out after {self.policy.timeout:g}s"
        except aiohttp.ClientConnectorError as exc:
            error = f"connection failed: {exc}"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")
        except Exception as exc:  # a delivery never takes the dispatcher down
            log.exception("unexpected webhook delivery error", extra={"delivery": item.public_id})
            error = f"{type(exc).__name__}: {exc}"
        latency_ms = (time.perf_counter() - started) * 1000
        if status is not None and not 200 <= status < 300 and error is None:
            error = f"HTTP {status}"
        return Outcome(
            item,
            attempted_at,
            status,
            latency_ms,
            None if error is None else error[:MAX_ERROR_CHARS],
            body,
        )

    def _record(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        now = self.clock.now()
        with self.db.transaction() as session:
            # A delivery may have been deleted while its POST was in flight (an erasure of its
            # subject, once the lease ran out): its attempt row would break its foreign key and
            # fail the whole batch, losing the others' outcomes (sent again later). Record only
            # the deliveries still there, locked so that none goes before this commits.
            present = set(
                session.scalars(
                    select(WebhookDelivery.id)
                    .where(WebhookDelivery.id.in_({o.outgoing.delivery_id for o in outcomes}))
                    .order_by(WebhookDelivery.id)
                    .with_for_update()
                )
            )
            outcomes = [o for o in outcomes if o.outgoing.delivery_id in present]
            if not outcomes:
                return
            session.execute(
                insert(WebhookAttempt),
                [
                    {
                        "company_id": o.outgoing.company_id,
                        "delivery_id": o.outgoing.delivery_id,
                        "number": o.outgoing.attempt,
                        "attempted_at": o.attempted_at,
                        "succeeded": o.succeeded,
                        "status_code": o.status_code,
                        "latency_ms": round(o.latency_ms, 3),
                        "error": o.error,
                        "response_body": o.response_body,
                    }
                    for o in outcomes
                ],
            )
            stopped = self._account(session, outcomes, now)
            updates = [self._next_state(o, now, stopped) for o in outcomes]
            table = WebhookDelivery.__table__
            assert isinstance(table, Table)
            session.connection().execute(
                table.update()
                .where(
                    table.c.id == bindparam("b_id"),
                    table.c.state == SENDING,
                    table.c.locked_by == self.name,
                    table.c.attempts == bindparam("b_attempt"),
                )
                .values(
                    state=bindparam("b_state"),
                    next_attempt_at=bindparam("b_next"),
                    finished_at=bindparam("b_finished"),
                    last_status_code=bindparam("b_status"),
                    last_error=bindparam("b_error"),
                    locked_by=None,
                    locked_until=None,
                ),
                updates,
            )
        for o in outcomes:
            log.debug(
                "webhook delivery attempt",
                extra={
                    "delivery": o.outgoing.public_id,
                    "attempt": o.outgoing.attempt,
                    "status": o.status_code,
                    "error": o.error,
                },
            )

    def _account(self, session: Session, outcomes: Sequence[Outcome], now: datetime) -> set[int]:
        """Update each webhook's run of consecutive failures; disable the ones past the limit.
        Returns the ids of the webhooks that are (now) disabled or deleted."""
        by_hook: dict[int, list[Outcome]] = {}
        for o in sorted(outcomes, key=lambda o: o.attempted_at):
            by_hook.setdefault(o.outgoing.webhook_id, []).append(o)
        stopped: set[int] = set()
        for hook_id, results in sorted(by_hook.items()):
            last_success = max((i for i, o in enumerate(results) if o.succeeded), default=None)
            if last_success is None:
                values: dict[str, Any] = {
                    "consecutive_failures": Webhook.consecutive_failures + len(results),
                }
            else:
                trailing = results[last_success + 1 :]
                values = {
                    "consecutive_failures": len(trailing),
                    "failing_since": trailing[0].attempted_at if trailing else None,
                }
            row = session.execute(
                update(Webhook)
                .where(Webhook.id == hook_id)
                .values(**values)
                .returning(
                    Webhook.company_id,
                    Webhook.consecutive_failures,
                    Webhook.failing_since,
                    Webhook.disabled_at,
                    Webhook.deleted_at,
                )
                .execution_options(synchronize_session=False)
            ).one()
            failing_since = row.failing_since
            if last_success is None and failing_since is None:
                failing_since = results[0].attempted_at
                session.execute(
                    update(Webhook)
                    .where(Webhook.id == hook_id)
                    .values(failing_since=failing_since)
                    .execution_options(synchronize_session=False)
                )
            if row.disabled_at is not None or row.deleted_at is not None:
                stopped.add(hook_id)
            elif (
                failing_since is not None
                and row.consecutive_failures >= self.policy.disable_after_failures
                and now - failing_since >= timedelta(seconds=self.policy.disable_after_seconds)
            ):
                session.execute(
                    update(Webhook)
                    .where(Webhook.id == hook_id)
                    .values(disabled_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                cancel_open_deliveries(session, row.company_id, hook_id, now)
                stopped.add(hook_id)
                log.warning(
                    "webhook disabled after consecutive failed deliveries",
                    extra={"webhook_id": hook_id, "failures": row.consecutive_failures},
                )
        return stopped

    def _next_state(self, o: Outcome, now: datetime, stopped: set[int]) -> dict[str, Any]:
        item = o.outgoing
        values: dict[str, Any] = {
            "b_id": item.delivery_id,
            "b_attempt": item.attempt,
            "b_status": o.status_code,
            "b_error": o.error,
            "b_next": None,
            "b_finished": now,
        }
        if o.succeeded:
            values["b_state"] = SUCCEEDED
        elif item.webhook_id in stopped:
            values["b_state"] = CANCELLED
        else:
            retry_at = now + self.policy.retry_delay(item.attempt, self.rng)
            if retry_at - item.created_at > timedelta(seconds=self.policy.retry_window):
                values["b_state"] = FAILED
            else:
                values.update(b_state=PENDING, b_next=retry_at, b_finished=None)
        return values


async def _read_prefix(response: aiohttp.ClientResponse, limit: int) -> str:
    """At most `limit` bytes of the body, decoded leniently; the rest is not read. NULs are
    replaced too: PostgreSQL's text cannot hold one, and failing to record the attempt left
    the delivery claimed, to be sent again once its lease ran out."""
    data = bytearray()
    while len(data) < limit:
        chunk = await response.content.read(limit - len(data))
        if not chunk:
            break
        data.extend(chunk)
    return bytes(data).decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def start_dispatcher(
    db: Database, clock: Clock, settings: Settings, stop: threading.Event
) -> threading.Thread:
    """Run a dispatcher on a daemon thread until `stop` is set (serve and worker use this)."""
    dispatcher = Dispatcher(db, clock, DeliveryPolicy.from_settings(settings))
    thread = threading.Thread(
        target=dispatcher.run_forever, args=(stop,), name="heedful-webhooks", daemon=True
    )
    thread.start()
    return thread
