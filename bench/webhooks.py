"""Webhook delivery benchmark: signed deliveries/s and emit->receive latency.

    .venv/bin/python bench/webhooks.py [--events 5000] [--database-url URL]

A receiver runs in its own process (uvicorn + uvloop on 127.0.0.1) and checks every signature
with its own HMAC code. Three measurements, in one run:

1. baseline: the same signed POSTs sent straight from an httpx client with the dispatcher's
   concurrency, no database: the ceiling of this machine's HTTP path;
2. throughput: N events emitted (in transactions of 500), then a dispatcher started; time until
   the receiver has all N, as deliveries/s and as a ratio of the baseline;
3. latency: a running dispatcher while events are emitted one per transaction at a steady rate;
   emit call -> receiver arrival, p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import delete

from heedful.core.clock import SystemClock
from heedful.oauth import service as oauth_service
from heedful.storage import migrate
from heedful.storage.db import Database
from heedful.storage.models import Company
from heedful.webhooks import service
from heedful.webhooks.dispatcher import DeliveryPolicy, Dispatcher, sign
from heedful.webhooks.payloads import Subscriber

SUBSCRIBER = Subscriber(external_id=1, phone="+15555550100", email="bench@example.com")


# --- the receiver (its own process) ----------------------------------------------------------


def _serve_receiver(sock: socket.socket, key: str) -> None:
    import uvicorn

    arrivals: list[tuple[int, int]] = []  # (seq, time_ns)
    invalid = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal invalid
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        now = time.time_ns()
        if scope["method"] == "GET":
            if scope["path"] == "/count":
                out = json.dumps({"count": len(arrivals), "invalid": invalid}).encode()
            else:
                out = json.dumps({"arrivals": arrivals, "invalid": invalid}).encode()
                arrivals.clear()
                invalid = 0
        else:
            given = dict(scope["headers"]).get(b"x-attentive-hmac-sha256", b"").decode()
            expected = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(given, expected):
                seq = int(json.loads(body)["user_property"]["value"])
                arrivals.append((seq, now))
            else:
                invalid += 1
            out = b"{}"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": out})

    config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


class ReceiverProcess:
    def __init__(self, key: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.process = multiprocessing.get_context("fork").Process(
            target=_serve_receiver, args=(self.sock, key), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        self.process.start()
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/count", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("receiver did not start")

    def count(self) -> int:
        return int(httpx.get(f"http://127.0.0.1:{self.port}/count", timeout=5).json()["count"])

    def drain(self) -> tuple[list[tuple[int, int]], int]:
        data = httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=30).json()
        return [tuple(a) for a in data["arrivals"]], int(data["invalid"])

    def wait_for(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.count()} of {n} deliveries arrived")
            time.sleep(0.01)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


# --- measurements ----------------------------------------------------------------------------


def parts(seq: int) -> dict[str, Any]:
    return {"user_property": {"id": "1", "name": "seq", "value": str(seq)}}


def baseline(receiver: ReceiverProcess, key: str, n: int, concurrency: int) -> float:
    """Signed POSTs straight from the dispatcher's HTTP client library (aiohttp), with
    `concurrency` in flight and no database; returns requests/s."""

    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as client:
            queue = list(range(n))

            async def one_lane() -> None:
                while queue:
                    seq = queue.pop()
                    body = json.dumps({"user_property": {"value": str(seq)}}).encode()
                    headers = {
                        "Content-Type": "application/json",
                        "x-attentive-hmac-sha256": sign(key, body),
                    }
                    async with client.post(receiver.url, data=body, headers=headers) as response:
                        await response.read()

            started = time.perf_counter()
            await asyncio.gather(*(one_lane() for _ in range(concurrency)))
            return n / (time.perf_counter() - started)

    rate = asyncio.run(run())
    receiver.drain()
    return rate


def throughput(
    db: Database, company_id: int, receiver: ReceiverProcess, n: int, policy: DeliveryPolicy
) -> float:
    clock = SystemClock()
    for start in range(0, n, 500):
        with db.transaction() as session:
            for seq in range(start, min(n, start + 500)):
                service.emit(
                    session, clock, company_id, "custom_attribute.set", SUBSCRIBER, parts(seq)
                )
    stop = threading.Event()
    dispatcher = Dispatcher(db, clock, policy)
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,))
    started = time.perf_counter()
    thread.start()
    receiver.wait_for(n)
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join(30)
    arrivals, invalid = receiver.drain()
    assert invalid == 0 and len({seq for seq, _ in arrivals}) == n, (invalid, len(arrivals))
    return n / elapsed


def latency(
    db: Database,
    company_id: int,
    receiver: ReceiverProcess,
    n: int,
    rate: float,
    policy: DeliveryPolicy,
) -> tuple[float, float, float]:
    clock = SystemClock()
    stop = threading.Event()
    thread = threading.Thread(target=Dispatcher(db, clock, policy).run_forever, args=(stop,))
    thread.start()
    time.sleep(0.3)
    sent: dict[int, int] = {}
    interval = 1 / rate
    next_at = time.perf_counter()
    for seq in range(n):
        sent[seq] = time.time_ns()
        with db.transaction() as session:
            service.emit(session, clock, company_id, "custom_attribute.set", SUBSCRIBER, parts(seq))
        next_at += interval
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    receiver.wait_for(n)
    stop.set()
    thread.join(30)
    arrivals, invalid = receiver.drain()
    assert invalid == 0
    waits = sorted((at - sent[seq]) / 1e6 for seq, at in arrivals)
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    return statistics.median(waits), p99, waits[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000, help="events for the throughput run")
    parser.add_argument("--latency-events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="events/s in the latency run")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        migrate.upgrade(db.engine)
        clock = SystemClock()
        with db.transaction() as session:
            company = oauth_service.create_company(
                session, clock, f"bench-{time.time_ns()}"
            ).company
            hook = service.create_webhook(
                session,
                clock,
                company.id,
                "http://127.0.0.1:1/placeholder",
                ["custom_attribute.set"],
                development=True,
            )
            company_id, hook_id, key = company.id, hook.id, hook.signing_key
        receiver = ReceiverProcess(key)
        receiver.start()
        try:
            with db.transaction() as session:
                from heedful.storage.models.webhooks import Webhook

                row = session.get(Webhook, hook_id)
                assert row is not None
                row.url = receiver.url
            policy = DeliveryPolicy(
                concurrency=args.concurrency, batch_size=100, poll_interval=0.25
            )
            print(f"database: {db.dialect}; events: {args.events}; concurrency: {args.concurrency}")
            base = baseline(receiver, key, args.events, args.concurrency)
            print(f"baseline (aiohttp only, no database): {base:8.0f} signed POSTs/s")
            rate = throughput(db, company_id, receiver, args.events, policy)
            print(
                f"dispatcher (claim, sign, POST, record): {rate:6.0f} deliveries/s  "
                f"({rate / base:.2f} x baseline)"
            )
            p50, p99, worst = latency(
                db, company_id, receiver, args.latency_events, args.rate, policy
            )
            print(
                f"latency at {args.rate:.0f} events/s, one emit per transaction: "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms"
            )
        finally:
            receiver.stop()
            with db.transaction() as session:  # leave the database as it was (cascades)
                session.execute(delete(Company).where(Company.id == company_id))
            db.dispose()
    sys.exit(0)


if __name__ == "__main__":
    main()
