"""A real webhook receiver on 127.0.0.1: a small ASGI app under uvicorn, on a thread.

It checks each request's signature with its own HMAC code (not heedful's), and answers what
the test scripted for the path: a status, optionally after a delay (to provoke timeouts).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from heedful.runtime import Runtime
from heedful.webhooks.dispatcher import DeliveryPolicy, Dispatcher


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    at: float  # time.perf_counter() on arrival

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def delivery_id(self) -> str:
        return self.headers["x-heedful-delivery-id"]


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.keys: dict[str, str] = {}
        self._scripts: dict[str, deque[tuple[int, float]]] = defaultdict(deque)
        self.requests: list[Received] = []
        self.port = 0
        self.response_body = b'{"ok": true}'
        # Called (on a worker thread) with each request's path before it is answered: lets a
        # test act while a POST is in flight.
        self.on_request: Callable[[str], None] | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def expect_key(self, path: str, key: str) -> None:
        self.keys[path] = key

    def script(self, path: str, *answers: int | tuple[int, float]) -> None:
        """The next answers on `path`: a status, or (status, delay seconds); then 200s."""
        with self._lock:
            for answer in answers:
                self._scripts[path].append(answer if isinstance(answer, tuple) else (answer, 0.0))

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received()
            if len(got) >= count:
                return got
            time.sleep(0.005)
        return self.received()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        arrived = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        key = self.keys.get(path)
        valid = key is not None and hmac.compare_digest(
            hmac.new(key.encode(), body, hashlib.sha256).hexdigest(),
            headers.get("x-attentive-hmac-sha256", ""),
        )
        with self._lock:
            self.requests.append(Received(path, headers, body, valid, arrived))
            status, delay = self._scripts[path].popleft() if self._scripts[path] else (200, 0.0)
        if self.on_request is not None:
            await asyncio.to_thread(self.on_request, path)
        if delay:
            await asyncio.sleep(delay)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": self.response_body})


class ReceiverServer:
    """Runs a `Receiver` under uvicorn on 127.0.0.1 (an ephemeral port) until stopped."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        receiver.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            receiver, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("receiver did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def fast_policy(timeout: float = 2.0) -> DeliveryPolicy:
    """Development mode (loopback allowed), retries 10 s, 20 s, 40 s, ... within a one-hour
    window, no auto-disable: the delivery schedule other areas' tests run webhooks with."""
    return DeliveryPolicy(
        timeout=timeout,
        retry_base=10.0,
        retry_factor=2.0,
        retry_cap=600.0,
        retry_window=3600.0,
        disable_after_failures=1000,
        disable_after_seconds=0.0,
        development=True,
    )


def make_dispatcher(runtime: Runtime) -> Dispatcher:
    return Dispatcher(runtime.db, runtime.clock, fast_policy(), rng=random.Random(7))


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    server = ReceiverServer(Receiver())
    server.start()
    try:
        yield server.receiver
    finally:
        server.stop()
