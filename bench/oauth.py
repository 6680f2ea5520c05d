"""OAuth benchmark: code exchanges/s, browser installs/s and OAuth-token auth, against API keys.

    .venv/bin/python bench/oauth.py [--requests 1000] [--installs 100] [--database-url URL]

Starts `heedful serve --no-worker` (one uvicorn process, rate limits off) on 127.0.0.1 on a fresh
SQLite file (or the given database, whose tables must be empty), and drives it from this process
with httpx (16 concurrent connections). In one run:

Rounds of the first three alternate (5 rounds, `--requests` in all); medians are reported.

1. baseline: `GET /v1/me` with an API key (bearer lookup + two reads per request);
2. `POST /v1/authorization-codes/tokens` with codes issued beforehand: one code lookup, an
   atomic claim, one token insert and an HS256 id_token per request;
3. `GET /v1/me` with an OAuth access token (the same lookup plus the installation check);
4. the whole browser install, one after another: consent page, approve (installation + code),
   redirect, exchange.

Each figure is printed with its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from heedful.core.clock import SystemClock
from heedful.oauth import service
from heedful.oauth.bootstrap import ensure_development_setup
from heedful.storage import migrate
from heedful.storage.db import Database

VENV_BIN = Path(sys.executable).parent
API_KEY = "hdf_bench_" + "k" * 40
REDIRECT_URI = "https://bench.example/callback"
SCOPES = ["ecommerce:write", "events:write"]
CONCURRENCY = 16
ROUNDS = 5
NAMES = (
    "GET /v1/me, API key (baseline)",
    "POST /v1/authorization-codes/tokens",
    "GET /v1/me, OAuth token",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(database_url: str, port: int) -> Iterator[str]:
    env = {
        **os.environ,
        "HEEDFUL_DATABASE_URL": database_url,
        "HEEDFUL_RATE_LIMITS": "off",
        "HEEDFUL_BOOTSTRAP_TOKEN": API_KEY,
        "HEEDFUL_LOG_LEVEL": "WARNING",
    }
    command = [str(VENV_BIN / "heedful"), "serve", "--no-worker", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("heedful did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def prepare(database_url: str, codes: int) -> tuple[str, str, list[str]]:
    """A public app installed on the dev company and `codes` fresh authorization codes."""
    db = Database(database_url)
    migrate.upgrade(db.engine)
    clock = SystemClock()
    params = {
        "client_id": [""],
        "redirect_uri": [REDIRECT_URI],
        "scope": [" ".join(SCOPES)],
    }
    issued = []
    with db.transaction() as session:
        dev = ensure_development_setup(session, clock, API_KEY)
        maker = service.create_company(session, clock, "Bench Maker").company
        app = service.create_application(
            session, clock, maker, "bench", SCOPES, redirect_uris=[REDIRECT_URI]
        )
        params["client_id"] = [app.application.client_id]
        for _ in range(codes):
            issued.append(service.approve(session, clock, params, dev.company.id, SCOPES)[1])
    db.dispose()
    return app.application.client_id, app.client_secret, issued


async def measure(count: int, one: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    """`count` calls of `one(i)` over CONCURRENCY workers: (requests/s, p99 ms)."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    return count / elapsed, statistics.quantiles(latencies, n=100)[98] * 1000


async def run(
    base: str, client_id: str, secret: str, codes: list[str], args: argparse.Namespace
) -> tuple[dict[str, tuple[float, float]], float]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        key = {"Authorization": f"Bearer {API_KEY}"}
        tokens: list[str] = []

        async def me_with_key(_: int) -> None:
            assert (await http.get("/v1/me", headers=key)).status_code == 200

        unused = iter(codes)

        async def exchange(_: int) -> None:
            form = {
                "grant_type": "authorization_code",
                "code": next(unused),
                "redirect_uri": REDIRECT_URI,
                "client_id": client_id,
                "client_secret": secret,
            }
            answer = await http.post("/v1/authorization-codes/tokens", data=form)
            assert answer.status_code == 200, answer.text
            tokens.append(answer.json()["access_token"])

        async def me_with_token(i: int) -> None:
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            assert (await http.get("/v1/me", headers=headers)).status_code == 200

        await measure(200, me_with_key)  # warm-up
        # Interleaved rounds, so that the three see the same (noisy) machine; medians reported.
        per_round = len(codes) // ROUNDS
        rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in NAMES}
        for _ in range(ROUNDS):
            rounds[NAMES[0]].append(await measure(per_round, me_with_key))
            rounds[NAMES[1]].append(await measure(per_round, exchange))
            rounds[NAMES[2]].append(await measure(per_round, me_with_token))
        results = {
            name: (statistics.median(r for r, _ in got), statistics.median(p for _, p in got))
            for name, got in rounds.items()
        }
    async with httpx.AsyncClient(base_url=base, timeout=60) as browser:
        started = time.perf_counter()
        for _ in range(args.installs):
            await install(browser, client_id, secret)
        installs = args.installs / (time.perf_counter() - started)
    return results, installs


async def install(browser: httpx.AsyncClient, client_id: str, secret: str) -> None:
    query = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": " ".join(SCOPES)}
    page = await browser.get("/oauth/authorize", params=query)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and match, page.text
    form = {**query, "csrf_token": match.group(1), "decision": "approve", "grant": SCOPES}
    redirect = await browser.post("/oauth/authorize", data=form)
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    token = await browser.post(
        "/v1/authorization-codes/tokens", data=exchange, auth=(client_id, secret)
    )
    assert token.status_code == 200, token.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--installs", type=int, default=100)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
        client_id, secret, codes = prepare(database_url, args.requests)
        with server(database_url, free_port()) as base:
            results, installs = asyncio.run(run(base, client_id, secret, codes, args))
    baseline = next(iter(results.values()))[0]
    print(f"{'measurement':40} {'req/s':>8} {'p99 ms':>8} {'vs baseline':>12}")
    for name, (rate, p99) in results.items():
        print(f"{name:40} {rate:8.0f} {p99:8.1f} {rate / baseline:11.2f}x")
    print(
        f"{'browser installs (sequential)':40} {installs:8.1f} {'':>8} {installs / baseline:11.3f}x"
    )


if __name__ == "__main__":
    main()
