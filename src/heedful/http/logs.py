"""Structured logging: one JSON object per line. Secrets are never passed to the logger."""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# msgspec writes a line several times faster than json.dumps; anything it cannot encode
# (an exception, a path) is written as its str(), as json.dumps(default=str) would.
_encoder = msgspec.json.Encoder(enc_hook=str)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = _head(record.created, record.levelname, record.name, record.getMessage())
        line.update(
            {key: value for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS}
        )
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(line).decode()

    def format_fields(
        self, created: float, levelname: str, name: str, msg: str, fields: dict[str, Any]
    ) -> str:
        """The line `format` makes of a record with these attributes and `fields` as its
        extras, without the record (no exception, no %-arguments)."""
        line = _head(created, levelname, name, msg)
        line.update(fields)
        return _encoder.encode(line).decode()


def _head(created: float, levelname: str, name: str, msg: str) -> dict[str, Any]:
    return {"ts": _timestamp(created), "level": levelname.lower(), "logger": name, "msg": msg}


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _timestamp(created: float) -> str:
    """ISO 8601 in UTC to the millisecond; the part up to the second is formatted once a
    second, not once a line (the access log writes thousands of lines a second)."""
    seconds = int(created)
    return f"{_second(seconds)}.{int((created - seconds) * 1000):03d}+00:00"


class BatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes lines as they come but flushes them in batches: within about `interval`
    seconds of a line being written (a background thread sees to it), at once for warnings and
    errors, and at exit (logging's own shutdown flushes every handler). A flush is a
    system call; one per access-log line cost more than formatting the line."""

    def __init__(self, stream: TextIO, interval: float = 0.2) -> None:
        super().__init__(stream)
        self.interval = interval
        self._pending = False  # a plain flag, not an Event: setting one per line costs a lock
        self._closed = False
        threading.Thread(target=self._flush_pending, name="heedful-log", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(self.format(record), record.levelno)
        except Exception:
            self.handleError(record)

    def write_line(self, line: str, levelno: int) -> None:
        """Write one formatted line: flushed at once for a warning or worse, else batched."""
        with self.lock:  # type: ignore[union-attr]
            self.stream.write(line + self.terminator)
        if levelno >= logging.WARNING:
            self.flush()
        else:
            self._pending = True

    def close(self) -> None:
        self._closed = True
        super().close()

    def _flush_pending(self) -> None:
        while not self._closed:
            time.sleep(self.interval)
            if not self._pending:
                continue
            self._pending = False
            with contextlib.suppress(OSError, ValueError):  # the stream was closed meanwhile
                self.flush()


def sole_json_handler(logger: logging.Logger) -> BatchedStreamHandler | None:
    """The one handler an INFO record of `logger` would reach, if that is a
    `BatchedStreamHandler` with a `JsonFormatter` and no filter stands in the way (heedful's
    own setup); None for any other arrangement, whose records must go through `logging`."""
    found: BatchedStreamHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if found is not None or not _plain_json_stream(handler):
                return None
            found = handler  # type: ignore[assignment]
        if not current.propagate:
            break
        current = current.parent
    return found


def _plain_json_stream(handler: logging.Handler) -> bool:
    return (
        type(handler) is BatchedStreamHandler
        and type(handler.formatter) is JsonFormatter
        and not handler.filters
        and handler.level <= logging.INFO
    )


def _block_buffered(stream: TextIO) -> TextIO:
    """The same file as `stream`, block-buffered: stderr is line-buffered, which would make
    every line a system call of its own whatever the handler does."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (captured in tests)
        return stream
    return open(
        fd, "w", buffering=1 << 16, encoding="utf-8", errors="backslashreplace", closefd=False
    )


def configure_logging(level: str = "INFO") -> None:
    # The JSON lines carry no thread or process names; a LogRecord would look each one up.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = BatchedStreamHandler(_block_buffered(sys.stderr))
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("heedful")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
