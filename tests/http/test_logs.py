"""The JSON log lines and their batched flushing."""

from __future__ import annotations

import json
import logging
import os
import select
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from heedful.http.logs import BatchedStreamHandler, JsonFormatter, _timestamp


@pytest.fixture
def pipe() -> Iterator[tuple[int, logging.Logger, BatchedStreamHandler]]:
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", buffering=1 << 16, encoding="utf-8")  # noqa: SIM115
    handler = BatchedStreamHandler(stream, interval=0.3)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("heedful.test-batched")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield read_end, logger, handler
    logger.handlers[:] = []
    stream.close()
    os.close(read_end)


def _available(fd: int, wait: float) -> list[dict[str, object]]:
    ready, _, _ = select.select([fd], [], [], wait)
    if not ready:
        return []
    return [json.loads(line) for line in os.read(fd, 1 << 16).decode().splitlines()]


def test_info_lines_are_flushed_in_a_batch_within_the_interval(
    pipe: tuple[int, logging.Logger, BatchedStreamHandler],
) -> None:
    fd, logger, _ = pipe
    logger.info("first", extra={"request_id": "r1"})
    logger.info("second")
    assert _available(fd, 0.05) == []  # written, not yet flushed
    lines = _available(fd, 2.0)
    assert [line["msg"] for line in lines] == ["first", "second"]
    assert lines[0]["request_id"] == "r1"


def test_a_warning_flushes_at_once_with_the_lines_before_it(
    pipe: tuple[int, logging.Logger, BatchedStreamHandler],
) -> None:
    fd, logger, _ = pipe
    logger.info("queued")
    logger.warning("trouble")
    started = time.monotonic()
    lines = _available(fd, 2.0)
    assert time.monotonic() - started < 0.25
    assert [(line["level"], line["msg"]) for line in lines] == [
        ("info", "queued"),
        ("warning", "trouble"),
    ]


@pytest.mark.parametrize("moment", [0.0, 1.9996, 1_764_245_000.123456, 1_764_245_000.9999])
def test_timestamps_match_isoformat_to_the_millisecond(moment: float) -> None:
    expected = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    assert _timestamp(moment) == expected
