"""The JSON log lines and their batched flushing."""

from __future__ import annotations

import json
import logging
import os
import select
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from heedful.http.logs import (
    BatchedStreamHandler,
    JsonFormatter,
    _timestamp,
    configure_logging,
    sole_json_handler,
)
from heedful.http.middleware import ObservedRequests, RequestRecord
from heedful.ops.metrics import Metrics


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


def test_the_direct_line_is_the_line_formatting_the_record_makes() -> None:
    fields = {"request_id": "abc", "status": 200, "duration_ms": 1.25, "company_id": 7}
    record = RequestRecord(fields)
    direct = JsonFormatter().format_fields(
        record.created, "INFO", "heedful.http", "request", fields
    )
    assert direct == JsonFormatter().format(record)


@pytest.fixture
def heedful_logging() -> Iterator[logging.Handler]:
    """heedful's own log setup (as `heedful serve` makes it), undone afterwards: other tests
    read records through pytest's handlers, which a non-propagating logger would bypass."""
    root = logging.getLogger("heedful")
    saved = (root.handlers[:], root.level, root.propagate)
    configure_logging("INFO")
    handler = root.handlers[0]
    handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
    yield handler
    handler.close()
    root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]


def _alone(handler: logging.Handler) -> None:
    # pytest attaches its capturing handler to non-propagating loggers as each test starts.
    logging.getLogger("heedful").handlers[:] = [handler]


def test_heedfuls_own_setup_has_a_sole_json_handler(heedful_logging: logging.Handler) -> None:
    _alone(heedful_logging)
    assert sole_json_handler(logging.getLogger("heedful.http")) is heedful_logging


@pytest.mark.parametrize("arrangement", ["logger filter", "handler filter", "second handler"])
def test_any_other_arrangement_sends_records_through_logging(
    arrangement: str, heedful_logging: logging.Handler
) -> None:
    _alone(heedful_logging)
    logger = logging.getLogger("heedful.http")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            seen.append(record)
            return True

    root = logging.getLogger("heedful")
    handler = heedful_logging
    undo: list[Callable[[], None]] = []
    if arrangement == "logger filter":
        logger.addFilter(Keep())
        undo.append(lambda: logger.filters.clear())
    elif arrangement == "handler filter":
        handler.addFilter(Keep())
        undo.append(lambda: handler.filters.clear())
    else:
        extra = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
        extra.addFilter(Keep())
        undo.append(lambda: extra.stream.close())
        root.addHandler(extra)
        undo.append(lambda: root.removeHandler(extra))
    try:
        assert sole_json_handler(logger) is None
        ObservedRequests(lambda *_: None, Metrics(dict))._record(  # type: ignore[arg-type]
            {"method": "GET", "path": "/v1/me"}, {"request_id": "r1"}, 200, 0.001
        )
    finally:
        for step in undo:
            step()
    assert [record.getMessage() for record in seen] == ["request"]
    assert seen[0].request_id == "r1"  # type: ignore[attr-defined]
