"""The yardstick the events issue names: a minimal Starlette app with group commit.

One route, `POST /v1/events/custom`: the bearer token looked up by its SHA-256 in a dict, the
body decoded (msgspec, no validation), and one writer thread per process committing the
pending inserts of many requests in one SQLite transaction; each request is answered after its
batch commits. No validation, identity, request log, metrics or rate limit. Served by
`bench/ingest_yardstick.py`; not part of heedful.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading
import time
from collections import deque
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TOKEN = "hdf_bench_" + "x" * 40
KEYS = {hashlib.sha256(TOKEN.encode()).hexdigest(): 1}
Pending = tuple[tuple[Any, ...], asyncio.Future[None], asyncio.AbstractEventLoop]


class GroupWriter:
    def __init__(self, path: str) -> None:
        self.queue: deque[Pending] = deque()
        self.ready = threading.Condition()
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS events"
            " (id INTEGER PRIMARY KEY, company INTEGER, type TEXT, body TEXT, at REAL)"
        )
        threading.Thread(target=self._run, daemon=True).start()

    def submit(self, row: tuple[Any, ...]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self.ready:
            self.queue.append((row, future, loop))
            self.ready.notify()
        return future

    def _run(self) -> None:
        while True:
            with self.ready:
                while not self.queue:
                    self.ready.wait()
                batch = [self.queue.popleft() for _ in range(min(len(self.queue), 1000))]
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT INTO events (company, type, body, at) VALUES (?, ?, ?, ?)",
                [row for row, _, _ in batch],
            )
            self.conn.execute("COMMIT")
            for _, future, loop in batch:
                loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_writer: GroupWriter | None = None


async def custom_event(request: Request) -> Response:
    global _writer
    if _writer is None:
        _writer = GroupWriter(os.environ.get("YARDSTICK_DB", "yardstick.db"))
    header = request.headers.get("authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    company = KEYS.get(hashlib.sha256(token.encode()).hexdigest())
    if company is None:
        return Response('{"error":"Unauthorized"}', 401, media_type="application/json")
    body = await request.body()
    event = msgspec.json.decode(body)
    await _writer.submit((company, event.get("type"), body.decode(), time.time()))
    return Response("{}", media_type="application/json")


app = Starlette(routes=[Route("/v1/events/custom", custom_event, methods=["POST"])])
