"""`heedful` in-process through typer's CliRunner, on the test database."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pytest
from typer.testing import CliRunner, Result

from heedful.cli.main import cli
from heedful.storage.db import Database

# Narrower than any secret plus a label: keys and ids must still come out on one line.
NARROW_COLUMNS = "40"


class Heedful(Protocol):
    def __call__(self, command: str, *, env: Mapping[str, str | None] | None = None) -> Result:
        """Run `heedful COMMAND` (split like a shell would) with `--database-url` added."""


@pytest.fixture
def cli_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner in an empty directory (no stray .env) with no HEEDFUL_* from the caller."""
    monkeypatch.chdir(tmp_path)
    unset: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("HEEDFUL_")
    }
    return CliRunner(env={**unset, "COLUMNS": NARROW_COLUMNS})


@pytest.fixture
def heedful(cli_runner: CliRunner, db: Database, database_url: str) -> Heedful:
    """`heedful("company create Shop")`, on the test database; tables are emptied afterwards."""

    def invoke(command: str, *, env: Mapping[str, str | None] | None = None) -> Result:
        args = [*shlex.split(command), "--database-url", database_url]
        return cli_runner.invoke(cli, args, env=env)

    return invoke
