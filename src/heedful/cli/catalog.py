"""`heedful catalog validate | upload | example`: catalog files, offline and against a server.

`upload` speaks only the public API (the vendor's or heedful's), so it works against either.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import httpx
import msgspec
import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from heedful.catalog.sample import example_product, generate_lines
from heedful.catalog.validator import CatalogError, validate_stream
from heedful.cli.common import console, fail, note, say
from heedful.core.clock import SystemClock

catalog_app = typer.Typer(help="Product catalog files: validate, upload, write an example.")

DONE = {"completed"}
PUT_CHUNK = 1024 * 1024


def _error_table(errors: list[CatalogError] | list[dict[str, Any]]) -> Table:
    table = Table("line", "errorType", "errorMessage", title="Validation errors")
    for error in errors:
        row = error if isinstance(error, dict) else msgspec.to_builtins(error)
        # A server's errors may leave fields out (the spec requires none of them).
        cells = (row.get(name, "") for name in ("lineNum", "errorType", "errorMessage"))
        table.add_row(*(Text(str(cell)) for cell in cells))  # data, not markup
    return table


@catalog_app.command()
def validate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=0, help="Worker processes (default: one per core; 0: this one only)"),
    ] = None,
) -> None:
    """Check a catalog file offline with the server's validator (exit 1 on any error)."""
    size = file.stat().st_size
    started = time.perf_counter()
    with (
        file.open("rb", buffering=1024 * 1024) as stream,
        Progress(
            TextColumn("validating"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[products]} products, {task.fields[rate]}/s"),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("validate", total=size, products=0, rate=0)

        def advance(products: int, offset: int) -> None:
            rate = int(products / max(time.perf_counter() - started, 1e-9))
            progress.update(task, completed=offset, products=products, rate=rate)

        report = validate_stream(stream, now=SystemClock().now(), progress=advance, workers=workers)
    seconds = time.perf_counter() - started
    if as_json:
        say(
            msgspec.json.encode(
                {
                    "ok": report.ok,
                    "productsReceived": report.products_received,
                    "productsValid": report.products_valid,
                    "errorCounts": report.tally.counts,
                    "errors": report.tally.errors(),
                    "seconds": round(seconds, 3),
                }
            ).decode()
        )
    else:
        rate = report.products_received / max(seconds, 1e-9)
        say(
            f"{report.products_received} products read, {report.products_valid} valid "
            f"in {seconds:.2f} s ({rate:,.0f} products/s)"
        )
        if not report.ok:
            console.print(_error_table(report.tally.errors()))
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(report.tally.counts.items()))
            say(f"error counts (all, not only those shown): {counts}")
    if not report.ok:
        raise typer.Exit(1)


@catalog_app.command()
def example(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="Where to write the NDJSON file")],
    count: Annotated[int, typer.Option(min=1, help="How many products")] = 1,
) -> None:
    """Write a valid catalog file: the spec's example product, then generated ones."""
    try:
        with _replacing(file) as out:
            out.write(msgspec.json.encode(example_product()) + b"\n")
            for line in generate_lines(count - 1):
                out.write(line + b"\n")
    except OSError as exc:  # a missing directory, no permission, a full disk
        fail(f"cannot write {file}: {exc.strerror or exc}")
    # Written to a stream (/dev/stdout, a pipe), the summary must not become part of the file.
    summary = say if file.is_file() else note
    summary(f"wrote {count} product(s) to {file}")


@contextmanager
def _replacing(path: Path) -> Iterator[BinaryIO]:
    """A file that becomes `path` once it is whole: cut short (Ctrl-C, a full disk), `path` is
    left as it was rather than holding a shorter catalog that looks complete. Something other
    than a regular file (/dev/stdout, a FIFO) is written in place."""
    if path.exists() and not path.is_file():
        with path.open("wb") as out:
            yield out
        return
    target = path.resolve()  # through a symlink: the file it names is replaced, not the link
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as out:
            yield out
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _read_chunks(path: Path, size: int, progress: Progress, task: Any) -> Iterator[bytes]:
    """The `size` bytes announced as Content-Length. A file that is shorter or longer by now
    (still being written) is an error before the body is complete, so the server, which
    processes a body once it has all of it, never gets a cut one."""
    with path.open("rb") as handle:
        left = size
        while left:
            chunk = handle.read(min(PUT_CHUNK, left))
            left -= len(chunk)
            if not chunk or (not left and handle.read(1)):
                raise OSError(f"{path} changed while it was being sent; send it once it is written")
            progress.advance(task, len(chunk))
            yield chunk


@catalog_app.command()
def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    validate_only: Annotated[
        bool, typer.Option("--validate-only", help="Only validate; save nothing")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Poll until processing ends")] = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="API root without /v1 (default: HEEDFUL_BASE_URL or http://127.0.0.1:8787)",
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="API key (default: HEEDFUL_API_KEY)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait")] = 3600.0,
) -> None:
    """Start an upload, PUT the file to its URL, and optionally wait for the result."""
    if not file.is_file():  # a pipe: its size, sent first as Content-Length, is not known
        fail(f"{file} is not a regular file; save it to one and upload that")
    if not 0 < timeout < math.inf:  # NaN too: no deadline would ever pass
        fail(f"--timeout must be a positive number of seconds, not {timeout}")
    root = (base_url or os.environ.get("HEEDFUL_BASE_URL") or "http://127.0.0.1:8787").rstrip("/")
    key = token or os.environ.get("HEEDFUL_API_KEY")
    if not key:
        fail("an API key is needed: --token or HEEDFUL_API_KEY")
    if not key.isascii():  # a header value: httpx would fail encoding it, with a traceback
        fail("the API key must be ASCII text; check --token or HEEDFUL_API_KEY")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=httpx.Timeout(60.0, read=600.0)) as http:
        started = _call(
            http.post,
            f"{root}/v1/product-catalog/uploads",
            ("uploadId", "uploadUrl"),
            json={"validateOnly": validate_only},
            headers=headers,
        )
        say(f"upload: {started['uploadId']}")
        _put(http, file, started["uploadUrl"])
        if not wait:
            say(f"status: {started.get('status')} (poll it with --wait, or GET the upload)")
            return
        final = _poll(http, root, started["uploadId"], headers, validate_only, timeout)
    _print_result(final)
    if final.get("errors"):
        raise typer.Exit(1)


def _call(method: Any, url: str, needs: tuple[str, ...], **kwargs: Any) -> dict[str, Any]:
    """The JSON object `url` answered, holding the strings `needs`; else one error line.

    The base URL may be anything (a proxy's login page, another API), and the spec makes every
    field of an upload optional: only what the command cannot go on without is required.
    """
    try:
        response = method(url, **kwargs)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is not an HTTPError
        fail(f"{url}: {exc}")
    if response.status_code != 200:
        fail(f"{url} answered {response.status_code}: {response.text[:500]}")
    try:
        body = response.json()
    except ValueError:  # not JSON, or not UTF-8
        fail(f"{url} answered 200 with something that is not JSON: {response.text[:200]}")
    missing = [
        name for name in needs if not isinstance(body, dict) or not isinstance(body.get(name), str)
    ]
    if missing:
        fail(f"{url} answered 200 without {', '.join(missing)}: {response.text[:200]}")
    return body  # type: ignore[no-any-return]


def _put(http: httpx.Client, file: Path, url: str) -> None:
    size = file.stat().st_size
    with Progress(
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("upload", total=size)
        # An explicit Content-Length: S3 refuses chunked transfer encoding on PUT.
        try:
            response = http.put(
                url,
                content=_read_chunks(file, size, progress, task),
                headers={"Content-Length": str(size)},
            )
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            fail(f"upload failed: {exc}")
    if response.status_code != 200:
        fail(f"upload failed: {response.status_code} {response.text[:500]}")
    say(f"uploaded {size} bytes")


def _poll(
    http: httpx.Client,
    root: str,
    upload_id: str,
    headers: dict[str, str],
    validate_only: bool,
    timeout: float,
) -> dict[str, Any]:
    finished = {"validated"} if validate_only else DONE
    deadline, delay = time.monotonic() + timeout, 0.25
    url = f"{root}/v1/product-catalog/uploads/{upload_id}"
    with console.status("waiting for processing") as status:
        while True:
            state = _call(http.get, url, ("status",), headers=headers)
            status.update(Text(f"{state['status']}: {_counts(state)}"))  # data, not markup
            if state["status"] in finished:
                return state
            if time.monotonic() > deadline:
                fail(f"gave up after {timeout:.0f} s; status is still {state['status']}")
            time.sleep(delay)
            delay = min(delay * 1.5, 10.0)


def _counts(state: dict[str, Any]) -> str:
    received, valid = (state.get(name, "?") for name in ("productsReceived", "productsProcessed"))
    return f"{received} received, {valid} valid"


def _print_result(state: dict[str, Any]) -> None:
    say(f"status: {state['status']} ({_counts(state)})")
    if state.get("errors"):
        console.print(_error_table(state["errors"]))
