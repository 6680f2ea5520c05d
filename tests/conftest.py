"""Shared fixtures. Set HEEDFUL_TEST_DATABASE_URL to run everything on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete

from heedful.app import create_app
from heedful.config import Settings
from heedful.core.clock import FrozenClock
from heedful.oauth.bootstrap import DevelopmentSetup, ensure_development_setup
from heedful.runtime import Runtime, build_job_registry
from heedful.storage import migrate
from heedful.storage.db import Database
from heedful.storage.models import Base

ADMIN_TOKEN = "test-admin-token"


@pytest.fixture
def anyio_backend() -> str:
    # Async tests run on asyncio (anyio_mode = auto in pyproject.toml).
    return "asyncio"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    configured = os.environ.get("HEEDFUL_TEST_DATABASE_URL")
    if configured:
        return configured
    path: Path = tmp_path_factory.mktemp("db") / "heedful-test.db"
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts on empty tables (schema from the real migrations, made once)."""
    yield
    if "db" not in request.fixturenames:
        return
    database: Database = request.getfixturevalue("db")
    with database.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


@pytest.fixture
def is_postgres(db: Database) -> bool:
    return db.dialect == "postgresql"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
    )


@pytest.fixture
def runtime(settings: Settings, db: Database, clock: FrozenClock) -> Runtime:
    return Runtime(settings, db, clock, build_job_registry())


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """httpx over the ASGI app, in-process; app errors come back as responses."""
    app = create_app(runtime.settings, runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def dev(runtime: Runtime) -> DevelopmentSetup:
    with runtime.db.transaction() as session:
        return ensure_development_setup(session, runtime.clock)


@pytest.fixture
def dev_headers(dev: DevelopmentSetup) -> dict[str, str]:
    assert dev.new_api_key is not None
    return {"Authorization": f"Bearer {dev.new_api_key}"}
