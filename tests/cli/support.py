"""Helpers for reading what `heedful` printed."""

from __future__ import annotations

import base64
import re

from typer.testing import Result

from heedful.oauth import service
from heedful.runtime import Runtime

API_KEY = re.compile(r"hdf_[A-Za-z0-9_-]{43}")
ADMIN_KEY = re.compile(r"hdfadm_[A-Za-z0-9_-]{43}")


def lines(result: Result) -> list[str]:
    return result.stdout.splitlines()


def value_of(result: Result, label: str) -> str:
    """The value on the `label: value` line of stdout (first word after the label)."""
    for line in lines(result):
        if line.startswith(f"{label}:"):
            return line.removeprefix(f"{label}:").split()[0]
    raise AssertionError(f"no '{label}:' line in:\n{result.stdout}")


def succeeded(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def failed(result: Result, code: int = 1) -> str:
    """Assert a clean failure: exit `code`, an `error:` line, no traceback. Returns stderr."""
    # An exception escaping the command shows as result.exception (CliRunner swallows it);
    # a clean failure is a SystemExit from typer.Exit.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr


def created_company_id(result: Result) -> str:
    """The public id in `company create`'s first line: `Created company NAME (ID)`."""
    first = lines(result)[0]
    assert first.startswith("Created company ") and first.endswith(")"), result.stdout
    return first.rsplit("(", 1)[1].removesuffix(")")


def decode_company_id(public_id: str) -> str:
    return base64.b64decode(public_id + "=" * (-len(public_id) % 4)).decode("ascii")


def token_scopes(runtime: Runtime, token: str) -> set[str]:
    """The scopes `token` authenticates with (raises Unauthorized when it does not)."""
    with runtime.db.transaction() as session:
        return set(service.authenticate(session, runtime.clock, token).scopes)
