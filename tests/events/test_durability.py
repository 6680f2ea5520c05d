"""Acknowledged means committed: SIGKILL a real server under load; every 200 survives.

`heedful serve` runs as a real process on the test database (SQLite file, or PostgreSQL when
HEEDFUL_TEST_DATABASE_URL is set). Sixteen concurrent clients send custom events, each with a
unique externalEventId, and note which ones were answered 200. The server's whole process group
is killed with SIGKILL mid-load (no shutdown of any kind), restarted, and every answered event
must be in the database. Events whose requests got no answer may or may not be there.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from heedful.storage.db import Database
from heedful.storage.models.events import Event

START_TIMEOUT = 60.0
CLIENTS = 16


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(
    database_url: str, token: str, workdir: Path, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`heedful serve` in `workdir` (with its worker), `settings` added to its environment."""
    port = free_port()
    script = Path(sys.executable).parent / "heedful"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEEDFUL_")}
    env.update(
        HEEDFUL_BOOTSTRAP_TOKEN=token, HEEDFUL_RATE_LIMITS="off", HEEDFUL_LOG_LEVEL="WARNING"
    )
    env.update(settings)
    command = [str(script), "serve", "--port", str(port), "--database-url", database_url]
    log = (workdir / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=log, stderr=log, start_new_session=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, (workdir / f"serve-{port}.log").read_text()
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base_url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()


async def load(base_url: str, token: str, acknowledged: set[str], stop: asyncio.Event) -> int:
    """Send events until `stop` or the server dies; returns how many requests were sent."""
    sent = 0

    async def client(number: int) -> None:
        nonlocal sent
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
            sequence = 0
            while not stop.is_set():
                event_id = f"c{number}-{sequence}"
                sequence += 1
                body = {
                    "type": "Durability",
                    "externalEventId": event_id,
                    "user": {"phone": f"+1311555{number:04d}"},
                }
                sent += 1
                try:
                    response = await http.post("/v1/events/custom", json=body, headers=headers)
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 200:
                    acknowledged.add(event_id)

    await asyncio.gather(*(client(number) for number in range(CLIENTS)))
    return sent


async def test_every_acknowledged_event_survives_sigkill(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    token = "hdf_" + secrets.token_urlsafe(32)
    acknowledged: set[str] = set()
    stop = asyncio.Event()

    with serving(database_url, token, tmp_path) as (base_url, server):
        running = asyncio.create_task(load(base_url, token, acknowledged, stop))
        while len(acknowledged) < 300:
            assert not running.done(), "the load stopped before the kill"
            await asyncio.sleep(0.05)
        # The kill lands while requests are in flight (the load is still running).
        os.killpg(server.pid, signal.SIGKILL)
        sent = await asyncio.wait_for(running, timeout=30)
        stop.set()

    assert sent > len(acknowledged)  # some requests were cut off unanswered
    with serving(database_url, token, tmp_path) as (base_url, _):
        after = await asyncio.to_thread(
            httpx.post,
            f"{base_url}/v1/events/custom",
            json={"type": "After", "user": {"phone": "+13115550000"}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert after.status_code == 200

    with db.transaction() as session:
        stored = set(session.scalars(select(Event.external_event_id)))
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
