from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from heedful.cli.main import cli
from heedful.storage import migrate
from heedful.storage.db import Database
from tests.cli.conftest import Heedful
from tests.cli.support import failed, succeeded


def revisions(result: Result) -> tuple[set[str], set[str], str]:
    """The applied and the head revisions `db current` printed, and its verdict."""
    current, head, verdict = succeeded(result).stdout.splitlines()
    assert current.startswith("current: ") and head.startswith("head:    "), result.stdout
    applied, heads = (set(line.split(":", 1)[1].strip().split(", ")) for line in (current, head))
    return applied, heads, verdict


def test_upgrade_brings_a_new_database_to_head(cli_runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    current, heads, verdict = revisions(
        cli_runner.invoke(cli, ["db", "current", "--database-url", url])
    )
    assert current == {"(empty)"}
    assert verdict.startswith("pending: ")

    upgraded = succeeded(cli_runner.invoke(cli, ["db", "upgrade", "--database-url", url]))

    current, heads, verdict = revisions(
        cli_runner.invoke(cli, ["db", "current", "--database-url", url])
    )
    assert current == heads
    assert verdict == "up to date"
    assert upgraded.stdout == f"Database at revision {', '.join(sorted(heads))}\n"


def test_current_shows_a_partly_upgraded_database(cli_runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'partial.db'}"
    database = Database(url)
    try:
        migrate.upgrade(database.engine, "0001")
    finally:
        database.dispose()

    current, heads, verdict = revisions(
        cli_runner.invoke(cli, ["db", "current", "--database-url", url])
    )

    assert current == {"0001"} != heads
    assert verdict == f"pending: {', '.join(sorted(heads))} (heedful db upgrade)"


def test_upgrade_and_current_on_the_test_database(heedful: Heedful) -> None:
    succeeded(heedful("db upgrade"))
    succeeded(heedful("db upgrade"))  # idempotent

    current, heads, verdict = revisions(heedful("db current"))

    assert current == heads
    assert verdict == "up to date"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://heedful:s3cret-pw@127.0.0.1:1/nowhere", "connection"),
        ("nosuchdriver://x/y", "nosuchdriver"),
        ("mysql://heedful@127.0.0.1/x", "No module named"),  # a dialect without its driver
        ("not a url", "Could not parse"),
    ],
)
@pytest.mark.parametrize("command", [["db", "current"], ["db", "upgrade"], ["company", "list"]])
def test_an_unusable_database_is_one_error_line(
    cli_runner: CliRunner, command: list[str], url: str, says: str
) -> None:
    result = cli_runner.invoke(cli, [*command, "--database-url", url])

    stderr = failed(result)
    assert says in stderr
    assert "s3cret-pw" not in stderr
    assert stderr.count("\n") == 1


def test_invalid_settings_are_one_error_line(cli_runner: CliRunner) -> None:
    result = cli_runner.invoke(cli, ["company", "list"], env={"HEEDFUL_PORT": "eighty"})

    assert "invalid settings" in failed(result)
    assert "port" in result.stderr


def test_settings_that_cannot_be_read_are_one_error_line(
    cli_runner: CliRunner, tmp_path: Path
) -> None:
    not_json = cli_runner.invoke(
        cli, ["company", "list"], env={"HEEDFUL_RATE_LIMIT_OVERRIDES": "identify=5"}
    )
    (tmp_path / ".env").write_bytes(b"HEEDFUL_PORT=\xff\xfe80\n")  # not UTF-8
    not_text = cli_runner.invoke(cli, ["company", "list"])

    assert "rate_limit_overrides" in failed(not_json)
    assert ".env" in failed(not_text)


@pytest.mark.parametrize("command", ["current", "upgrade"])
def test_a_revision_this_heedful_does_not_know_is_one_error_line(
    cli_runner: CliRunner, tmp_path: Path, command: str
) -> None:
    # A database a newer heedful migrated: `db current`, the command to look into it, died
    # with alembic's traceback.
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    database = Database(url)
    try:
        migrate.upgrade(database.engine, "0001")
        with database.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'zzz_9999'"))
    finally:
        database.dispose()

    result = cli_runner.invoke(cli, ["db", command, "--database-url", url])

    assert "zzz_9999" in failed(result)
