"""The Makefile's `make run` (dry runs only: `make -n` prints the commands, runs none)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def serve_command(*args: str, **env: str) -> str:
    """The `heedful serve ...` line `make run` would run, with HEEDFUL_* from `env` only."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("HEEDFUL_")}
    # -B: consider every target stale, so the venv's set-up lines are printed, never skipped.
    dry = subprocess.run(
        ["make", "-n", "-B", "run", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    (line,) = [line for line in dry.stdout.splitlines() if "heedful serve" in line]
    return line


def test_make_run_leaves_host_and_port_to_the_settings() -> None:
    # The README: HEEDFUL_HOST/HEEDFUL_PORT (environment or .env) say where `serve` listens,
    # and command-line options win over both, so `make run` must not pass its own.
    line = serve_command(HEEDFUL_HOST="0.0.0.0", HEEDFUL_PORT="9000")

    assert "--host" not in line and "--port" not in line, line


def test_make_run_still_takes_host_and_port_as_make_variables() -> None:
    line = serve_command("HOST=0.0.0.0", "PORT=9000")

    assert line.endswith("heedful serve --host 0.0.0.0 --port 9000"), line
