"""Validation fanned out over worker processes: the same answer as in one process, whatever
the block boundaries; blocks read in constant memory; the server job's pool path, and its
restarts when the in-memory validation state is lost or held elsewhere."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from heedful.catalog import parallel, routes, service
from heedful.catalog.validator import (
    Block,
    ErrorTally,
    ErrorType,
    FileChanged,
    FileReport,
    check_line,
    file_path,
    read_blocks,
    take_lines,
    validate_stream,
)
from heedful.core.clock import FrozenClock
from heedful.jobs.worker import Worker
from heedful.runtime import Runtime
from heedful.storage.models.catalog import CatalogProduct, CatalogVariant
from tests.catalog.support import ndjson, product
from tests.catalog.test_routes import count, lookup, start, upload_path

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _named(name: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["name"] = name

    return change


def _foreign_variants(data: dict[str, Any]) -> None:
    """Product 11's variants under another product id: a variant id repeated."""
    data["id"] = "PD-other"


def mixed_lines() -> list[bytes]:
    """80 lines: 16 wrong types (more than the cap of 10), broken JSON, a repeated product id
    and a repeated variant id far from their first use, an oversized line, CRLF, a blank."""
    lines = []
    for number in range(1, 81):
        if number % 5 == 0:
            lines.append(product(number, _named(1)))
        elif number == 33:
            lines.append(b'{"id": "broken",}')
        elif number == 51:
            lines.append(product(3))
        elif number == 71:
            lines.append(product(11, _foreign_variants))
        elif number == 41:
            lines.append(b'{"id": "' + b"x" * 6000 + b'"}')
        elif number == 42:
            lines.append(product(number) + b"\r")
        elif number == 43:
            lines.append(b"   ")
        else:
            lines.append(product(number))
    return lines


def validate(data: bytes, **options: Any) -> FileReport:
    return validate_stream(io.BytesIO(data), now=NOW, max_line_bytes=4096, **options)


def summary(report: FileReport) -> tuple[Any, ...]:
    errors = [(e.errorType, e.lineNum, e.errorMessage) for e in report.tally.errors()]
    return report.products_received, report.products_valid, report.tally.counts, errors


def test_worker_processes_find_exactly_what_one_process_finds() -> None:
    data = ndjson(mixed_lines())

    alone = validate(data, workers=0)
    in_blocks = validate(data, workers=0, block_bytes=2048)
    pooled = validate(data, workers=2, block_bytes=2048)

    assert parallel._pool is not None  # ~60 blocks: the pool did the work
    assert summary(pooled) == summary(in_blocks) == summary(alone)
    assert alone.tally.counts == {
        ErrorType.INVALID_TYPE: 16,
        ErrorType.INVALID_JSON: 1,
        ErrorType.LINE_TOO_LONG: 1,
        ErrorType.DUPLICATE_ID: 2,
    }
    kept = alone.tally.errors()
    assert [e.lineNum for e in kept if e.errorType == ErrorType.INVALID_TYPE] == list(
        range(5, 55, 5)
    )
    duplicates = [e for e in kept if e.errorType == ErrorType.DUPLICATE_ID]
    assert [e.lineNum for e in duplicates] == [51, 71]
    assert "product id already used on line 3" in duplicates[0].errorMessage
    assert "variant id already used on line 11" in duplicates[1].errorMessage
    assert (alone.products_received, alone.products_valid) == (79, 59)


def test_workers_read_a_file_s_blocks_themselves_with_the_same_outcome(tmp_path: Path) -> None:
    data = ndjson(mixed_lines())
    path = tmp_path / "catalog.ndjson"
    path.write_bytes(data)

    with path.open("rb") as stream:
        assert file_path(stream) == str(path)
        from_file = validate_stream(
            stream, now=NOW, max_line_bytes=4096, workers=2, block_bytes=2048
        )

    assert summary(from_file) == summary(validate(data, workers=0))


@pytest.mark.parametrize("block_bytes", [8, 1024, 4096])
def test_blocks_left_in_the_file_come_back_as_read_blocks_would_hold_them(
    tmp_path: Path, block_bytes: int
) -> None:
    lines = [b"a" * 700, b"b" * 5000, b"", b"c" * 10, b"d" * 1500, b"e" * 4096]
    data = ndjson(lines) + b"tail-without-newline"
    path = tmp_path / "catalog.ndjson"
    path.write_bytes(data)
    options: dict[str, Any] = {"max_line_bytes": 4096, "block_bytes": block_bytes}

    with path.open("rb") as stream:
        left = list(read_blocks(stream, path=str(path), **options))
    held = list(read_blocks(io.BytesIO(data), **options))

    assert all(block.data == b"" for block in left)
    assert [block.attached() for block in left] == held


def test_a_block_left_in_a_file_that_changed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.ndjson"
    path.write_bytes(b"first\nsecond line\nthird\n")
    with path.open("rb") as stream:
        blocks = list(read_blocks(stream, block_bytes=8, path=str(path)))

    path.write_bytes(b"first\nsecond\n")  # cut short
    with pytest.raises(FileChanged):
        blocks[-1].attached()
    path.write_bytes(b"first\nsecond line\nthird_more\n")  # the block now ends mid-line
    with pytest.raises(FileChanged):
        blocks[1].attached()


def test_streams_workers_cannot_reopen_are_read_here(tmp_path: Path) -> None:
    path = tmp_path / "catalog.ndjson"
    path.write_bytes(b"first\nsecond\n")

    assert file_path(io.BytesIO(b"first\n")) is None
    with path.open("rb") as stream:
        stream.read(3)
        assert file_path(stream) is None  # the blocks' offsets would not start at 0
        assert file_path(stream, start=3) == str(path)


def test_small_inputs_stay_in_this_process_in_order() -> None:
    seen: list[int] = []

    def double(item: int) -> int:  # a closure: it could not be sent to a worker process
        seen.append(item)
        return item * 2

    assert list(parallel.ordered_map(double, [1, 2, 3], workers=2)) == [2, 4, 6]
    assert seen == [1, 2, 3]


def test_the_line_limit_holds_across_blocks_and_workers() -> None:
    data = ndjson([product(n) for n in range(1, 41)])

    reports = [
        validate_stream(io.BytesIO(data), now=NOW, max_lines=25, workers=w, block_bytes=2048)
        for w in (0, 2)
    ]

    for report in reports:
        assert report.products_received == 25
        assert [(e.errorType, e.lineNum) for e in report.tally.errors()] == [
            (ErrorType.TOO_MANY_LINES, 26)
        ]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("block_bytes", [2048, 8192])  # the cut at a block's start, or inside
def test_the_product_limit_skips_blank_lines_across_blocks_and_workers(
    workers: int, block_bytes: int
) -> None:
    # Each product followed by a blank line: product n is on line 2n - 1.
    data = b"".join(line + b"\n\n" for line in [product(n) for n in range(1, 41)])

    def check(max_lines: int) -> FileReport:
        stream = io.BytesIO(data)
        return validate_stream(
            stream, now=NOW, max_lines=max_lines, workers=workers, block_bytes=block_bytes
        )

    cut, whole = check(25), check(40)

    assert (cut.products_received, cut.products_valid) == (25, 25)
    assert [(e.errorType, e.lineNum) for e in cut.tally.errors()] == [
        (ErrorType.TOO_MANY_LINES, 51)
    ]
    assert whole.ok and whole.products_received == 40


def test_repeated_ids_keep_the_first_ten_in_file_order() -> None:
    lines = [product(n) for n in range(1, 21)] + [product(n) for n in range(20, 0, -1)]

    report = validate(ndjson(lines), workers=2, block_bytes=2048)

    assert report.tally.counts == {ErrorType.DUPLICATE_ID: 20}
    assert [e.lineNum for e in report.tally.errors()] == list(range(21, 31))


def test_blocks_hold_whole_lines_and_skip_an_oversized_one_without_holding_it() -> None:
    lines = [b"a" * 700, b"b" * 5000, b"c" * 10, b"d" * 1500]
    data = ndjson(lines) + b"tail-without-newline"

    blocks = list(read_blocks(io.BytesIO(data), max_line_bytes=4096, block_bytes=1024))

    assert [b.oversized for b in blocks] == [False, True, False, False, False]
    assert blocks[1].data == b"" and blocks[1].first_line == 2
    assert [(b.first_line, b.lines) for b in blocks] == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]
    assert blocks[0].data == lines[0] + b"\n"
    assert blocks[-1].data == b"tail-without-newline" and blocks[-1].end == len(data)
    assert all(b.data.endswith(b"\n") for b in blocks[:-1] if not b.oversized)


def test_take_lines_cuts_a_block_at_the_requested_line() -> None:
    data = b"".join(f"line {n}\n".encode() for n in range(1, 11))

    taken = list(take_lines(read_blocks(io.BytesIO(data), block_bytes=25), 5))

    assert sum(b.lines for b in taken) == 5
    assert b"".join(b.data for b in taken) == data[: data.index(b"line 6")]
    assert taken[-1].end == data.index(b"line 6")


def test_a_tally_absorbing_later_lines_keeps_the_first_of_each_type() -> None:
    first, later = ErrorTally(), ErrorTally()
    for line in range(1, 8):
        first.add(_wrong_type(line))
    for line in range(8, 15):
        later.add(_wrong_type(line))

    first.absorb(later)

    assert first.counts == {ErrorType.INVALID_TYPE: 14}
    assert [e.lineNum for e in first.errors()] == list(range(1, 11))


def _wrong_type(line: int) -> Any:
    error = check_line(product(line, _named(1)), line, NOW)
    assert not isinstance(error, Block) and not hasattr(error, "id")
    return error


# --- the server job -------------------------------------------------------------------------


async def test_big_uploads_go_through_the_worker_pool_with_the_same_outcome(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(service, "BLOCK_BYTES", 2048)
    lines = [line for n, line in enumerate(mixed_lines(), 1) if n != 41]  # 4 MB lines: too big
    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=ndjson(lines))

    worker.run_until_idle()

    final = await lookup(client, dev_headers, upload["uploadId"])
    expected = validate_stream(io.BytesIO(ndjson(lines)), now=runtime.clock.now(), workers=0)
    assert final["status"] == "completed"
    assert (final["productsReceived"], final["productsProcessed"]) == (78, 59)
    assert final["errors"] == [
        {"errorType": e.errorType, "errorMessage": e.errorMessage, "lineNum": e.lineNum}
        for e in expected.tally.errors()
    ]
    assert count(runtime, CatalogProduct) == 59
    assert count(runtime, CatalogVariant) == 59 * 3


@pytest.mark.parametrize("pool", [False, True])
async def test_the_server_job_limits_products_not_blank_lines(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    pool: bool,
) -> None:
    if pool:
        monkeypatch.setattr(service, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(service, "BLOCK_BYTES", 2048)
    limited = service.Processing(chunk_lines=4, max_lines=5)
    monkeypatch.setattr(routes, "processing", lambda settings: limited)
    # Product n on line 2n - 1 (a blank line after each); chunks of 4 lines hold 2 products.
    data = b"".join(line + b"\n\n" for line in [product(n) for n in range(1, 8)])
    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=data)

    worker.run_until_idle()

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert final["status"] == "completed"
    assert (final["productsReceived"], final["productsProcessed"]) == (5, 5)
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [
        (ErrorType.TOO_MANY_LINES, 11)
    ]
    with runtime.db.transaction() as session:
        saved = session.scalars(select(CatalogProduct.product_id)).all()
    assert sorted(saved) == [f"PD-{n}" for n in range(1, 6)]


async def test_a_chunk_failing_mid_validation_starts_the_validation_over(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = [product(n) for n in range(1, 7)] + [product(2), product(8), product(9)]
    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=ndjson(lines))
    real, calls = service.check_block, {"n": 0}

    def fail_once(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:  # the third chunk (line 9), after the repeat on line 7
            raise RuntimeError("worker died")
        return real(*args)

    monkeypatch.setattr(service, "check_block", fail_once)
    for _ in range(40):
        worker.run_once()
        clock.advance(timedelta(hours=1))  # past any retry backoff

    final = await lookup(client, dev_headers, upload["uploadId"])
    assert final["status"] == "completed"
    assert calls["n"] == 6  # three chunks, then all three again from line 1
    assert (final["productsReceived"], final["productsProcessed"]) == (9, 8)
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [
        (ErrorType.DUPLICATE_ID, 7)
    ]
    assert count(runtime, CatalogProduct) == 8


async def test_a_validation_held_by_another_worker_waits_for_it_then_is_taken_over(
    client: httpx.AsyncClient,
    dev_headers: dict[str, str],
    worker: Worker,
    runtime: Runtime,
    clock: FrozenClock,
) -> None:
    lines = [product(n) for n in range(1, 7)] + [product(2), product(8), product(9)]
    upload = await start(client, dev_headers)
    await client.put(upload_path(upload), content=ndjson(lines))
    worker.run_once()  # the first chunk: lines 1-4
    _hand_to_another_process(runtime)

    worker.run_once()

    waiting = await lookup(client, dev_headers, upload["uploadId"])
    assert (waiting["status"], waiting["productsReceived"]) == ("validating", 4)
    clock.advance(service.TAKEOVER_AFTER + timedelta(seconds=1))
    worker.run_until_idle()
    final = await lookup(client, dev_headers, upload["uploadId"])
    assert (final["status"], final["productsReceived"], final["productsProcessed"]) == (
        "completed",
        9,
        8,
    )
    assert [(e["errorType"], e["lineNum"]) for e in final["errors"]] == [
        (ErrorType.DUPLICATE_ID, 7)
    ]


def _hand_to_another_process(runtime: Runtime) -> None:
    """What this process sees when another worker process validated the first chunk."""
    from sqlalchemy import update

    from heedful.storage.models.catalog import CatalogUpload

    service._validations.clear()
    with runtime.db.transaction() as session:
        session.execute(update(CatalogUpload).values(processed_by="elsewhere:1:cafe"))
