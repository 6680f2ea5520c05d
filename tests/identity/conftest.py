"""Fixtures for the identity tests: the CLI on the test database."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from heedful.cli.main import cli
from heedful.storage.db import Database


@pytest.fixture
def heedful_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database, database_url: str
) -> Callable[[str], Result]:
    """`heedful_cli("users show --phone ...")` in-process, on the test database."""
    monkeypatch.chdir(tmp_path)
    unset: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("HEEDFUL_")
    }
    runner = CliRunner(env={**unset, "COLUMNS": "200"})

    def invoke(command: str) -> Result:
        return runner.invoke(cli, [*shlex.split(command), "--database-url", database_url])

    return invoke
