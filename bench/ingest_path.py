"""In-process cost of one custom-event request, against a no-op ASGI app in the same run.

    .venv/bin/python bench/ingest_path.py [--requests 20000] [--concurrency 64]

No sockets, no uvicorn, no load generator: each app is called directly with synthetic ASGI
messages by `--concurrency` coroutines on one uvloop event loop, so the figures are the apps'
own CPU per request (process time, all threads: event loop and group-commit writer) and what
they add to each other. heedful runs as `heedful serve` builds it, on a fresh SQLite file, with
its access log written to /dev/null; a second heedful run turns the log off (`--log-level
WARNING`) to show its share. `bench/ingest.py` measures the same operation over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import BODY, PATH, TOKEN, noop_app  # noqa: E402

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def heedful_app(log_level: str) -> App:
    """`heedful serve`'s app on a fresh SQLite file, with the bench token and no rate limits."""
    database = Path(tempfile.mkdtemp()) / "path.db"
    os.environ.update(
        {
            "HEEDFUL_DATABASE_URL": f"sqlite:///{database}",
            "HEEDFUL_BOOTSTRAP_TOKEN": TOKEN,
            "HEEDFUL_RATE_LIMITS": "off",
            "HEEDFUL_LOG_LEVEL": log_level,
            "HEEDFUL_SERVE_WORKER": "0",
        }
    )
    from heedful.cli.common import runtime_for
    from heedful.cli.main import app_from_environment
    from heedful.oauth.bootstrap import ensure_development_setup

    url = os.environ["HEEDFUL_DATABASE_URL"]
    with runtime_for(url) as runtime, runtime.db.transaction() as session:
        ensure_development_setup(session, runtime.clock, TOKEN)
    app: App = app_from_environment()  # type: ignore[assignment]
    for handler in logging.getLogger("heedful").handlers:
        handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
    return app


async def call(app: App, statuses: list[int]) -> None:
    body = BODY.encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)


async def measure(app: App, requests: int, concurrency: int) -> tuple[float, float, int]:
    """(requests/s, CPU µs per request, non-200 answers) after a warm-up."""
    statuses: list[int] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            await call(app, statuses)

    await asyncio.gather(*(worker(20) for _ in range(concurrency)))
    statuses.clear()
    per_worker = max(1, requests // concurrency)
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(per_worker) for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done = len(statuses)
    return done / wall, cpu / done * 1e6, sum(1 for status in statuses if status != 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--app", choices=["noop", "heedful", "heedful-nolog"])
    args = parser.parse_args()
    if args.app is None:  # each app in a process of its own, one after the other
        for app in ("noop", "heedful", "heedful-nolog"):
            command = [sys.executable, __file__, "--app", app]
            command += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
            os.spawnv(os.P_WAIT, sys.executable, command)
        return
    apps: dict[str, Callable[[], App]] = {
        "noop": lambda: noop_app,
        "heedful": lambda: heedful_app("INFO"),
        "heedful-nolog": lambda: heedful_app("WARNING"),
    }
    app = apps[args.app]()
    rate, cpu_us, errors = uvloop.run(measure(app, args.requests, args.concurrency))
    print(f"{args.app:14s} {rate:9,.0f} req/s  {cpu_us:7.1f} µs CPU/request  non-200 {errors}")


if __name__ == "__main__":
    main()
