"""Fixtures for the OAuth install flow: a public app, an installing company, a browser."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner, Result

from heedful.app import create_app
from heedful.cli.main import cli
from heedful.config import Settings
from heedful.oauth import service
from heedful.runtime import Runtime
from heedful.storage.db import Database
from tests.oauth.support import Browser, PublicApp, make_public_app


class Heedful(Protocol):
    def __call__(self, *args: str) -> Result: ...


PRODUCTION_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"


@dataclass(frozen=True)
class Installer:
    company_id: int
    name: str
    admin_key: str


@pytest.fixture
def public_app(runtime: Runtime) -> PublicApp:
    return make_public_app(runtime)


@pytest.fixture
def installer(runtime: Runtime) -> Installer:
    with runtime.db.transaction() as session:
        made = service.create_company(session, runtime.clock, "Hudson & Ivy", domain="hi.attn.tv")
        return Installer(made.company.id, made.company.name, made.admin_key)


@pytest.fixture
def browser(client: httpx.AsyncClient) -> Browser:
    """The development-mode app in a cookie-keeping client (the dev company is signed in)."""
    return Browser(client)


@pytest.fixture
def production_runtime(runtime: Runtime) -> Runtime:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=runtime.settings.database_url,
        env="production",
        secret_key=PRODUCTION_SECRET,
    )
    return Runtime(settings, runtime.db, runtime.clock)


@pytest.fixture
async def production_browser(production_runtime: Runtime) -> AsyncIterator[Browser]:
    """The production-mode app: the consent page asks for a company admin key."""
    app = create_app(production_runtime.settings, production_runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Browser(http)


@pytest.fixture
def heedful(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database, database_url: str
) -> Heedful:
    """`heedful ARGS... --database-url <test database>` in-process, in an empty directory."""
    monkeypatch.chdir(tmp_path)
    unset: dict[str, str | None] = {n: None for n in os.environ if n.startswith("HEEDFUL_")}
    runner = CliRunner(env=unset)

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, [*args, "--database-url", database_url])

    return invoke


@pytest.fixture
def live_server(runtime: Runtime) -> Iterator[str]:
    """The app served by a real uvicorn on 127.0.0.1 (a free port), in a thread; its base URL."""
    app = create_app(runtime.settings, runtime)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
