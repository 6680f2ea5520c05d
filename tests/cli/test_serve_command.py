"""`heedful serve` in-process, up to the point where it would hand over to uvicorn.

(test_serve_process.py runs the real thing; this covers what is cheaper to check here: the
development key in a narrow terminal, and the settings handed to the app factory.)
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
import uvicorn
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from heedful.cli import main
from heedful.config import Settings
from heedful.oauth.scopes import KNOWN_SCOPES
from heedful.runtime import Runtime
from heedful.storage.db import Database
from heedful.storage.models import Company
from heedful.storage.models.company import AccessToken
from tests.cli.support import API_KEY, failed, succeeded, token_scopes

# What `serve` exports for the app factory; the runner puts them back as they were.
EXPORTED = ("HEEDFUL_DATABASE_URL", "HEEDFUL_HOST", "HEEDFUL_PORT", "HEEDFUL_SERVE_WORKER")

Serve = Callable[..., Result]


@pytest.fixture
def handed_over() -> dict[str, Any]:
    """What `serve` passed to uvicorn.run, and the environment the app factory would see."""
    return {}


@pytest.fixture
def serve(
    cli_runner: CliRunner,
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    handed_over: dict[str, Any],
) -> Serve:
    """`heedful serve ARGS --database-url <test database>`, with uvicorn, the signal handlers
    and the logging set-up replaced, so that nothing of this process changes for good."""

    def fake_run(app: str, **kwargs: Any) -> None:
        handed_over.update(kwargs, app=app, settings=Settings(_env_file=None))
        handed_over["env"] = {name: os.environ.get(name) for name in EXPORTED}

    installed: dict[int, object] = {}
    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(main, "configure_logging", lambda level: None)
    monkeypatch.setattr(
        signal, "signal", lambda signum, handler: installed.update({signum: handler})
    )
    handed_over["signals"] = installed

    def invoke(*args: str, columns: int = 100, **settings: str) -> Result:
        env: dict[str, str | None] = {name: None for name in EXPORTED}
        env["COLUMNS"] = str(columns)
        env.update({f"HEEDFUL_{name.upper()}": value for name, value in settings.items()})
        return cli_runner.invoke(
            main.cli, ["serve", *args, "--database-url", database_url], env=env
        )

    return invoke


@pytest.mark.parametrize("columns", [100, 30])
def test_first_start_prints_the_key_whole_then_never_again(
    serve: Serve, runtime: Runtime, columns: int
) -> None:
    first = succeeded(serve(columns=columns))

    assert "Development API key" in first.stdout
    (key,) = API_KEY.findall(first.stdout)  # whole, even where the panel is narrower than it
    assert token_scopes(runtime, key) == set(KNOWN_SCOPES)

    second = succeeded(serve(columns=columns))
    assert "Development API key" not in second.stdout
    assert not API_KEY.search(second.stdout)
    assert "heedful token create --app dev" in second.stdout


def test_options_reach_the_app_factory(
    serve: Serve, handed_over: dict[str, Any], database_url: str
) -> None:
    succeeded(serve("--host", "0.0.0.0", "--port", "9123", "--no-worker", "--workers", "2"))

    assert handed_over["app"] == "heedful.cli.main:app_from_environment"
    assert handed_over["factory"] is True
    assert (handed_over["host"], handed_over["port"], handed_over["workers"]) == (
        "0.0.0.0",
        9123,
        2,
    )
    assert handed_over["env"] == {
        "HEEDFUL_DATABASE_URL": database_url,
        "HEEDFUL_HOST": "0.0.0.0",
        "HEEDFUL_PORT": "9123",
        "HEEDFUL_SERVE_WORKER": "0",
    }
    settings: Settings = handed_over["settings"]  # as app_from_environment builds them
    assert (settings.database_url, settings.public_base_url) == (
        database_url,
        "http://0.0.0.0:9123",
    )
    # After uvicorn's graceful shutdown re-raises SIGINT/SIGTERM to these: exit 0, no 143.
    assert set(handed_over["signals"]) == {signal.SIGINT, signal.SIGTERM}
    for handler in handed_over["signals"].values():
        with pytest.raises(SystemExit) as exited:
            handler(signal.SIGTERM, None)
        assert exited.value.code == 0


def test_the_worker_runs_unless_told_not_to(serve: Serve, handed_over: dict[str, Any]) -> None:
    succeeded(serve())

    assert handed_over["env"]["HEEDFUL_SERVE_WORKER"] == "1"
    assert (handed_over["host"], handed_over["port"]) == ("127.0.0.1", 8787)


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_one_error_line(
    serve: Serve, handed_over: dict[str, Any], port: str
) -> None:
    result = serve("--port", port)  # 70000 was served on 4464 (70000 - 65536)

    assert "port" in failed(result)
    assert "app" not in handed_over  # uvicorn was never started


PRODUCTION = {"env": "production", "secret_key": "k" * 32}


def test_production_makes_no_development_tenant_unless_bootstrapped(
    serve: Serve, runtime: Runtime
) -> None:
    plain = succeeded(serve(**PRODUCTION))
    assert "Development API key" not in plain.stdout
    assert not API_KEY.search(plain.stdout)
    assert "no development company" in plain.stdout
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Company)) == 0

    bootstrapped = succeeded(serve(**PRODUCTION, bootstrap_token="t" * 40))
    # The bootstrap token is the dev app's only key: no other one is made and printed.
    assert "Development API key" not in bootstrapped.stdout
    assert not API_KEY.search(bootstrapped.stdout)
    assert "its API key is the value of HEEDFUL_BOOTSTRAP_TOKEN" in bootstrapped.stdout
    assert token_scopes(runtime, "t" * 40) == set(KNOWN_SCOPES)
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(AccessToken)) == 1
