"""`heedful catalog validate | example | upload` (upload against a live heedful)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from heedful.catalog.sample import generate_lines
from heedful.cli import catalog as catalog_cli
from heedful.cli.main import cli
from heedful.runtime import Runtime
from tests.catalog.live import LiveServer
from tests.catalog.support import ndjson, product
from tests.cli.support import failed

runner = CliRunner()


def test_example_writes_a_file_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "example.ndjson"

    written = runner.invoke(cli, ["catalog", "example", str(target), "--count", "25"])
    checked = runner.invoke(cli, ["catalog", "validate", str(target), "--json"])

    assert written.exit_code == 0, written.output
    assert len(target.read_bytes().splitlines()) == 25
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert (report["ok"], report["productsReceived"], report["productsValid"]) == (True, 25, 25)


def test_validate_shows_errors_and_exits_1(tmp_path: Path) -> None:
    target = tmp_path / "bad.ndjson"
    target.write_bytes(ndjson([product(1), b"{oops", product(1)]))

    as_json = runner.invoke(cli, ["catalog", "validate", str(target), "--json"])
    as_table = runner.invoke(cli, ["catalog", "validate", str(target)])

    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["errorCounts"] == {"INVALID_JSON": 1, "DUPLICATE_ID": 1}
    assert [(e["errorType"], e["lineNum"]) for e in report["errors"]] == [
        ("INVALID_JSON", 2),
        ("DUPLICATE_ID", 3),
    ]
    assert as_table.exit_code == 1
    assert "INVALID_JSON" in as_table.stdout and "3 products read, 1 valid" in as_table.stdout


def test_validate_gives_the_same_report_with_and_without_worker_processes(tmp_path: Path) -> None:
    target = tmp_path / "many.ndjson"
    lines = [product(n) for n in range(1, 3001)] + [b"{oops", product(7)]
    target.write_bytes(ndjson(lines))  # ~5 MB: five 1 MB blocks, so the pool is used

    reports = [
        runner.invoke(cli, ["catalog", "validate", str(target), "--json", "--workers", workers])
        for workers in ("0", "2")
    ]

    assert [r.exit_code for r in reports] == [1, 1]
    alone, pooled = (json.loads(r.stdout) for r in reports)
    assert alone["errorCounts"] == {"INVALID_JSON": 1, "DUPLICATE_ID": 1}
    assert {k: v for k, v in alone.items() if k != "seconds"} == {
        k: v for k, v in pooled.items() if k != "seconds"
    }


def test_upload_puts_the_file_and_waits_for_the_result(
    runtime: Runtime, dev_headers: dict[str, str], tmp_path: Path
) -> None:
    key = dev_headers["Authorization"].removeprefix("Bearer ")
    target = tmp_path / "catalog.ndjson"
    target.write_bytes(ndjson([product(n) for n in range(1, 6)]))

    with LiveServer(runtime) as server:
        result = runner.invoke(
            cli,
            ["catalog", "upload", str(target), "--wait", "--base-url", server.url, "--token", key],
        )
        failing = runner.invoke(
            cli,
            ["catalog", "upload", str(target), "--base-url", server.url, "--token", "wrong"],
        )

    assert result.exit_code == 0, result.output
    assert "status: completed (5 received, 5 valid)" in result.stdout
    assert failing.exit_code == 1
    assert "401" in failing.output


def test_example_into_a_missing_directory_is_one_error_line(tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "example.ndjson"

    result = runner.invoke(cli, ["catalog", "example", str(target)])

    assert "no-such-dir" in failed(result)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--base-url", "http://[::1", "--token", "key"], "http://[::1"),
        (["--base-url", "http://127.0.0.1:1", "--token", "clé"], "API key"),
    ],
)
def test_upload_with_an_unusable_url_or_key_is_one_error_line(
    tmp_path: Path, options: list[str], says: str
) -> None:
    target = tmp_path / "catalog.ndjson"
    target.write_bytes(ndjson([product(1)]))

    result = runner.invoke(cli, ["catalog", "upload", str(target), *options])

    assert says in failed(result)


def answering(
    monkeypatch: pytest.MonkeyPatch, post: httpx.Response, *polls: httpx.Response
) -> None:
    """Make `catalog upload` talk to a server answering `post` to the POST, 200 to the PUT
    and `polls` in turn to the GETs (something that is not heedful, or not quite)."""
    answers = iter(polls)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(200)
        return post if request.method == "POST" else next(answers)

    client = functools.partial(httpx.Client, transport=httpx.MockTransport(handle))
    monkeypatch.setattr(httpx, "Client", client)


STARTED = {"uploadId": "u-1", "uploadUrl": "http://files.example/u-1", "status": "initialized"}


@pytest.mark.parametrize(
    ("post", "says"),
    [
        (httpx.Response(200, text="<html>a login page</html>"), "not JSON"),
        (httpx.Response(200, json={}), "uploadId"),
        (httpx.Response(200, json=[1, 2]), "uploadId"),
        (httpx.Response(200, json={**STARTED, "uploadUrl": None}), "uploadUrl"),
    ],
)
def test_upload_answered_something_else_than_an_upload_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, post: httpx.Response, says: str
) -> None:
    target = tmp_path / "catalog.ndjson"
    target.write_bytes(ndjson([product(1)]))
    answering(monkeypatch, post)

    result = runner.invoke(cli, ["catalog", "upload", str(target), "--token", "k", "--wait"])

    assert says in failed(result)


def test_upload_waits_for_an_answer_that_leaves_out_optional_fields(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The spec makes every field optional; the vendor may leave out the counts while validating.
    target = tmp_path / "catalog.ndjson"
    target.write_bytes(ndjson([product(1)]))
    answering(
        monkeypatch,
        httpx.Response(200, json=STARTED),
        httpx.Response(200, json={"status": "validating"}),
        httpx.Response(200, json={"status": "completed", "errors": [{"errorType": "INVALID_URL"}]}),
    )

    result = runner.invoke(cli, ["catalog", "upload", str(target), "--token", "k", "--wait"])

    assert result.exit_code == 1, result.output  # errors were reported
    assert "Traceback" not in result.output and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    assert "status: completed" in result.stdout and "INVALID_URL" in result.stdout


@pytest.mark.parametrize(
    ("failure", "code"),
    [(KeyboardInterrupt(), 130), (OSError(28, "No space left on device"), 1)],
)
def test_example_cut_short_leaves_the_file_as_it_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failure: BaseException, code: int
) -> None:
    # It was truncated, then left holding the lines written so far: a smaller catalog that
    # looked whole (Ctrl-C, a full disk).
    target = tmp_path / "catalog.ndjson"
    target.write_bytes(b"what was there\n")

    def cut_short(count: int) -> Iterator[bytes]:
        yield from generate_lines(2)
        raise failure

    monkeypatch.setattr(catalog_cli, "generate_lines", cut_short)

    result = runner.invoke(cli, ["catalog", "example", str(target), "--count", "10"])

    assert result.exit_code == code, result.output
    assert target.read_bytes() == b"what was there\n"
    assert list(tmp_path.iterdir()) == [target]  # no partial file left beside it


def test_upload_of_a_pipe_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Its size (0) went out as Content-Length, then its bytes: a traceback from h11.
    fifo = tmp_path / "catalog.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(ndjson([product(1)]),))
    writer.start()  # waits for a reader
    answering(monkeypatch, httpx.Response(200, json=STARTED))

    result = runner.invoke(cli, ["catalog", "upload", str(fifo), "--token", "k"])

    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer finish if unread
    writer.join(timeout=10)
    os.close(reader)
    assert "regular file" in failed(result)


class Rewriting(httpx.BaseTransport):
    """Answers like heedful, but the file is rewritten (`to`) just before the PUT sends it."""

    def __init__(self, file: Path, to: bytes) -> None:
        self.file, self.to = file, to

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json=STARTED)
        self.file.write_bytes(self.to)
        request.read()
        return httpx.Response(200)


@pytest.mark.parametrize("shrinks", [True, False])
def test_upload_of_a_file_changing_meanwhile_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shrinks: bool
) -> None:
    # Fewer or more bytes than the Content-Length sent: a traceback from h11 (or, more, a cut
    # line sent as the last one).
    target = tmp_path / "catalog.ndjson"
    target.write_bytes(ndjson([product(1), product(2)]))
    changed = ndjson([product(1)] if shrinks else [product(1), product(2), product(3)])
    transport = Rewriting(target, changed)
    monkeypatch.setattr(httpx, "Client", functools.partial(httpx.Client, transport=transport))

    result = runner.invoke(cli, ["catalog", "upload", str(target), "--token", "k"])

    assert "changed" in failed(result)


def test_example_to_stdout_is_the_catalog_alone_and_the_summary_goes_to_stderr() -> None:
    heedful = Path(sys.executable).parent / "heedful"
    done = subprocess.run(
        [str(heedful), "catalog", "example", "/dev/stdout", "--count", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["id"] for line in lines)
    assert "wrote 3 product(s)" in done.stderr


@pytest.mark.parametrize("timeout", ["nan", "inf", "0", "-5"])
def test_upload_timeout_must_be_a_positive_number_of_seconds(tmp_path: Path, timeout: str) -> None:
    file = tmp_path / "catalog.ndjson"
    file.write_bytes(ndjson([product()]))
    args = ["catalog", "upload", str(file), "--wait", "--token", "k", "--timeout", timeout]
    result = runner.invoke(cli, args)
    assert "--timeout must be a positive number" in failed(result)
