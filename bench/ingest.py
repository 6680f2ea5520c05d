"""Custom-event ingestion throughput and latency, against a raw no-op ASGI app in the same run.

    .venv/bin/python bench/ingest.py                 # SQLite (the targets)
    .venv/bin/python bench/ingest.py --postgres postgresql://postgres@127.0.0.1:55432/DB

Starts (1) a raw ASGI app that answers `{}` without doing anything and (2) `heedful serve` on a
fresh database, both under uvicorn with `--workers 2` on 127.0.0.1, and drives each with the
same load: `wrk` (64 connections, 2 threads, 10 s) POSTing the same custom event to
`/v1/events/custom` with a bearer token, on the raw app and on heedful in alternation
(`--pairs`, default 3: this machine's speed drifts from minute to minute, so each ratio is taken
from two back-to-back runs, and the median ratio is reported), then a steady 150 requests/s for
10 s on each from an asyncio generator (latency measured from each request's scheduled send
time, so a stalled server cannot hide queueing). Prints requests/s, p50 and p99 for each and the
ratios. Only the server under load is busy: the other one idles meanwhile.

heedful runs with rate limits off (`HEEDFUL_RATE_LIMITS=off`): the documented limit is 150
requests/s per token per operation, which the saturating run exceeds by design.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
TOKEN = "hdf_bench_" + "x" * 40
PATH = "/v1/events/custom"
BODY = json.dumps(
    {
        "type": "Order Shipped",
        "properties": {"orderStatusURL": "https://example.com/orderstatus/54321", "n": 1},
        "user": {"phone": "+13115552368", "email": "test@gmail.com"},
    }
)


async def noop_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline: reads the body, answers `{}`; no routing, no auth, no storage."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def line(self) -> str:
        return (
            f"{self.rps:9.0f} req/s  p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms"
            f"  non-2xx/errors {self.errors}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


@contextlib.contextmanager
def server(command: list[str], port: int, env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(port)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_wrk(port: int, connections: int, seconds: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(BODY)}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
            "function done(summary, latency, requests)\n"
            "  io.write(string.format('P50 %d\\nP99 %d\\nERRS %d\\n', latency:percentile(50),"
            " latency:percentile(99), summary.errors.status + summary.errors.connect"
            " + summary.errors.read + summary.errors.write + summary.errors.timeout))\n"
            "end\n"
        )
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}{PATH}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = int(re.search(r"P50 (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    p99 = int(re.search(r"P99 (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    errors = int(re.search(r"ERRS (\d+)", out).group(1))  # type: ignore[union-attr]
    return Result(rps, p50, p99, errors)


def _request_bytes(port: int) -> bytes:
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY.encode())}\r\n\r\n{BODY}"
    ).encode()


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    await reader.readexactly(length)
    return status


async def steady(port: int, rate: float, seconds: float, connections: int = 8) -> Result:
    """`rate` requests/s on a fixed schedule over keep-alive connections."""
    request = _request_bytes(port)
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    total = int(rate * seconds)

    async def fire(due: float) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, due - loop.time()))
        reader, writer = await pool.get()
        try:
            status = await _one(reader, writer, request)
        finally:
            pool.put_nowait((reader, writer))
        latencies.append(loop.time() - due)
        if status != 200:
            errors += 1

    await asyncio.gather(*(fire(start + i / rate) for i in range(total)))
    elapsed = loop.time() - start
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    cuts = statistics.quantiles(latencies, n=100)
    return Result(len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, errors)


def compare(target: str, raw_port: int, port: int, seconds: int, pairs: int) -> None:
    """The saturating load on the raw app and on heedful in alternation, `pairs` times (each
    pair's ratio taken minutes apart from no other), then the steady load on each."""
    for warm in (raw_port, port):
        run_wrk(warm, 64, 2)  # imports, connections, SQLite pages
    ratios = []
    for _ in range(pairs):
        raw, ours = run_wrk(raw_port, 64, seconds), run_wrk(port, 64, seconds)
        print(f"  {'raw':16s} 64 connections     {raw.line()}", flush=True)
        print(f"  {target:16s} 64 connections     {ours.line()}", flush=True)
        ratios.append(ours.rps / raw.rps)
        print(f"  ratio {target} / raw, 64 connections: {ratios[-1]:.2f}", flush=True)
    if pairs > 1:
        print(f"  median ratio {target} / raw: {statistics.median(ratios):.2f}", flush=True)
    for name, steady_port in (("raw", raw_port), (target, port)):
        result = asyncio.run(steady(steady_port, 150, seconds))
        print(f"  {name:16s} steady 150 req/s   {result.line()}", flush=True)


def count_events(database_url: str) -> int:
    code = (
        "import sys; from sqlalchemy import text; from heedful.storage.db import Database;"
        "db = Database(sys.argv[1]);"
        "print(db.engine.connect().execute(text('select count(*) from events')).scalar())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, database_url], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole comparison")
    parser.add_argument(
        "--pairs", type=int, default=3, help="raw/heedful alternations of the saturating load"
    )
    parser.add_argument("--postgres", help="also run heedful on this (emptied!) database")
    parser.add_argument("--log-level", default="INFO", help="heedful's HEEDFUL_LOG_LEVEL")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: apt-get install wrk")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HEEDFUL_")}
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}: {args.seconds} s per load, uvicorn --workers 2", flush=True)
        raw_port = free_port()
        noop = [
            str(VENV_BIN / "uvicorn"),
            "bench.ingest:noop_app",
            "--port",
            str(raw_port),
            "--workers",
            "2",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        targets = [("sqlite", None)] + ([("postgres", args.postgres)] if args.postgres else [])
        with server(noop, raw_port, base_env):
            for label, url in targets:
                run_heedful(f"heedful/{label}", url, raw_port, base_env, args)


def run_heedful(
    target: str, url: str | None, raw_port: int, base_env: dict[str, str], args: Any
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = url or f"sqlite:///{tmp}/bench.db"
        if url:
            reset_postgres(url)
        port = free_port()
        env = {
            **base_env,
            "HEEDFUL_BOOTSTRAP_TOKEN": TOKEN,
            "HEEDFUL_RATE_LIMITS": "off",
            "HEEDFUL_LOG_LEVEL": args.log_level,
        }
        command = [
            str(VENV_BIN / "heedful"),
            "serve",
            "--workers",
            "2",
            "--port",
            str(port),
            "--database-url",
            database_url,
        ]
        with server(command, port, env):
            compare(target, raw_port, port, args.seconds, args.pairs)
        print(f"  events stored by {target}: {count_events(database_url)}", flush=True)


def reset_postgres(url: str) -> None:
    code = (
        "import sys; from sqlalchemy import text; from heedful.storage.db import Database;"
        "db = Database(sys.argv[1]);"
        "c = db.engine.connect(); c.execute(text('DROP SCHEMA public CASCADE'));"
        "c.execute(text('CREATE SCHEMA public')); c.commit()"
    )
    subprocess.run([sys.executable, "-c", code, url], check=True)


if __name__ == "__main__":
    main()
