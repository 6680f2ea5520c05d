"""`heedful serve` and `heedful worker` as real processes: start, answer, stop on a signal.

Always on a SQLite file of its own; the serve test runs once more on PostgreSQL when
HEEDFUL_TEST_DATABASE_URL points there (through the `db` fixture, so its tables are emptied
after the test, once the server has stopped).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cli.support import API_KEY

START_TIMEOUT = 60.0  # until /healthz answers: imports, migrations, bootstrap (slow when busy)
STOP_TIMEOUT = 10.0  # seconds from the signal to the exit
RUN_TIMEOUT = 60.0  # seconds for a one-shot command


def heedful_command() -> list[str]:
    script = Path(sys.executable).parent / "heedful"
    return [str(script)] if script.exists() else [sys.executable, "-m", "heedful"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def child_env(**extra: str) -> dict[str, str]:
    """The caller's environment without HEEDFUL_*, a fixed width, and `extra`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HEEDFUL_")}
    return {**env, "COLUMNS": "100", **extra}


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self, signum: signal.Signals) -> int:
        """Send `signum`; the exit status, or a failure when it takes over STOP_TIMEOUT."""
        started = time.monotonic()
        self.popen.send_signal(signum)
        try:
            code = self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit {STOP_TIMEOUT}s after {signum.name}:\n{self.stderr}")
        assert time.monotonic() - started < STOP_TIMEOUT
        return code

    def wait_for(self, text: str, *, stream: str = "stderr") -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self._fail_if_exited(f"printing {text!r}")
            if text in getattr(self, stream):
                return
            time.sleep(0.05)
        pytest.fail(f"{text!r} not in {stream} after {START_TIMEOUT}s:\n{self.stderr}")

    def wait_until_healthy(self, base_url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self._fail_if_exited("answering /healthz")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"/healthz did not answer within {START_TIMEOUT}s:\n{self.stderr}")

    def _fail_if_exited(self, before: str) -> None:
        code = self.popen.poll()
        if code is not None:
            pytest.fail(f"heedful exited ({code}) before {before}:\n{self.stdout}\n{self.stderr}")


@contextmanager
def running(args: list[str], *, workdir: Path, env: dict[str, str], name: str) -> Iterator[Process]:
    """`heedful ARGS` in `workdir`, output to files there; killed on the way out if still up."""
    stdout_path, stderr_path = workdir / f"{name}.out", workdir / f"{name}.err"
    with ExitStack() as stack:
        stdout = stack.enter_context(stdout_path.open("wb"))
        stderr = stack.enter_context(stderr_path.open("wb"))
        popen = subprocess.Popen(
            [*heedful_command(), *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
        try:
            yield Process(popen, stdout_path, stderr_path)
        finally:
            if popen.poll() is None:
                popen.kill()
                popen.wait(timeout=STOP_TIMEOUT)


def assert_clean_shutdown(process: Process, *, worker: bool) -> None:
    stderr = process.stderr
    assert "Traceback" not in stderr, stderr
    assert "Application shutdown complete" in stderr, stderr
    assert ("worker stopped" in stderr) is worker, stderr


def me(base_url: str, token: str) -> tuple[str, str]:
    response = httpx.get(
        f"{base_url}/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=5.0
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["companyName"], body["applicationName"]


def ready(base_url: str) -> str:
    response = httpx.get(f"{base_url}/readyz", timeout=5.0)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
    database: str = response.json()["database"]
    return database


@pytest.fixture(params=["sqlite", "postgresql"])
def serve_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'serve.db'}"
    configured = os.environ.get("HEEDFUL_TEST_DATABASE_URL", "")
    if not configured.startswith("postgres"):
        pytest.skip("HEEDFUL_TEST_DATABASE_URL does not point at PostgreSQL")
    # The shared test database: migrated, empty now, and emptied after this test.
    request.getfixturevalue("db")
    return configured


def test_serve_bootstraps_once_and_keeps_its_keys(serve_database_url: str, tmp_path: Path) -> None:
    bootstrap_token = f"ci-{secrets.token_urlsafe(24)}"
    env = child_env(HEEDFUL_BOOTSTRAP_TOKEN=bootstrap_token)
    dialect = serve_database_url.split(":")[0]

    port = free_port()
    first_url = f"http://127.0.0.1:{port}"
    serve = ["serve", "--port", str(port), "--database-url", serve_database_url]
    with running(serve, workdir=tmp_path, env=env, name="first") as first:
        first.wait_until_healthy(first_url)
        assert me(first_url, bootstrap_token) == ("Dev Company", "dev")
        printed = first.stdout  # readable while serving: not stuck in a buffer
        assert "its API key is the value of HEEDFUL_BOOTSTRAP_TOKEN" in printed, printed
        assert not API_KEY.search(printed), printed  # no other key made and shown
        assert ready(first_url) == dialect
        assert first.stop(signal.SIGINT) == 0
    assert_clean_shutdown(first, worker=True)

    port = free_port()
    second_url = f"http://127.0.0.1:{port}"
    serve = ["serve", "--port", str(port), "--database-url", serve_database_url, "--no-worker"]
    with running(serve, workdir=tmp_path, env=env, name="second") as second:
        second.wait_until_healthy(second_url)
        assert me(second_url, bootstrap_token) == ("Dev Company", "dev")
        assert ready(second_url) == dialect
        assert second.stop(signal.SIGTERM) == 0
    assert_clean_shutdown(second, worker=False)
    assert not API_KEY.search(second.stdout), second.stdout
    assert "Development company 'Dev Company' ready" in second.stdout


def test_worker_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    worker = ["worker", "--database-url", f"sqlite:///{tmp_path / 'worker.db'}"]
    with running(worker, workdir=tmp_path, env=child_env(), name="worker") as process:
        process.wait_for("worker started")
        assert process.stop(signal.SIGTERM) == 0
    assert "worker stopped" in process.stderr
    assert "Traceback" not in process.stderr


def test_a_failing_command_prints_one_error_line_and_no_traceback(tmp_path: Path) -> None:
    url = "postgresql://heedful:s3cret@127.0.0.1:1/nowhere"
    result = subprocess.run(
        [*heedful_command(), "company", "list", "--database-url", url],
        cwd=tmp_path,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )

    assert result.returncode == 1
    prefix = "error: database postgresql://heedful:***@127.0.0.1:1/nowhere: connection failed"
    assert result.stderr.startswith(prefix), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""
