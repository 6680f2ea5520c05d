"""The outermost layer: request id, one JSON log line per request, metrics, last-resort 500."""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from typing import Any, ClassVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heedful.core.crypto import new_error_id
from heedful.http.logs import JsonFormatter, sole_json_handler
from heedful.ops.metrics import Metrics

log = logging.getLogger("heedful.http")


class ObservedRequests:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, token_prefixes: tuple[str, ...] = ()
    ) -> None:
        """`token_prefixes`: paths whose rest is a credential (a signed upload URL's token);
        their log lines say `<prefix>{token}` instead."""
        self.app = app
        self.metrics = metrics
        self.token_prefixes = token_prefixes
        self._request_ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        request_id = self._request_ids.next()
        state["request_id"] = request_id
        status = {"code": 500, "started": False}
        started = time.perf_counter()

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except Exception:
            state.setdefault("error_id", new_error_id())
            log.exception("unhandled error", extra={"error_id": state["error_id"]})
            if not status["started"]:
                await _send_internal_error(send, state["error_id"], request_id)
            status["code"] = 500
        finally:
            elapsed = time.perf_counter() - started
            self._record(scope, state, int(status["code"]), elapsed)

    def _loggable_path(self, path: str) -> str:
        for prefix in self.token_prefixes:
            if path.startswith(prefix):
                return prefix + "{token}"
        return path

    def _record(self, scope: Scope, state: dict[str, Any], status: int, elapsed: float) -> None:
        operation = state.get("operation_id") or _route_label(scope)
        self.metrics.observe(operation, status, elapsed)
        fields = {
            "request_id": state["request_id"],
            "method": scope["method"],
            "path": self._loggable_path(scope["path"]),
            "operation": operation,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
        }
        for key in ("error_id", "error_message", "company_id"):
            if key in state:
                fields[key] = state[key]
        if not log.isEnabledFor(logging.INFO):
            return
        handler = sole_json_handler(log)
        if handler is None:
            log.handle(RequestRecord(fields))
            return
        # heedful's own log setup: the line the record would make, written without making
        # it (a record and the trip through `logging` cost as much as the rest of the request).
        formatter: JsonFormatter = handler.formatter  # type: ignore[assignment]
        line = formatter.format_fields(time.time(), "INFO", log.name, "request", fields)
        handler.write_line(line, logging.INFO)


class RequestRecord(logging.LogRecord):
    """The log record of one request, made for a fraction of what `log.info()` costs: the
    attributes that are the same on every request line (logger, level, message, source) are
    copied in from one prepared dict, and nothing is looked up (`log.info()` also walks the
    stack for the caller's file and line, and asks for thread and process names)."""

    _CONSTANT: ClassVar[dict[str, Any]] = {
        **vars(logging.LogRecord(log.name, logging.INFO, __file__, 0, "request", (), None)),
        # As with logThreads/logProcesses off (heedful.http.logs): not looked up.
        **dict.fromkeys(("thread", "threadName", "process", "processName"), None),
        "funcName": "_record",
    }

    def __init__(self, fields: dict[str, Any]) -> None:  # no super().__init__(): see above
        created = time.time()
        self.__dict__.update(self._CONSTANT)
        self.__dict__.update(fields)
        self.created = created
        self.msecs = (created - int(created)) * 1000


class RequestIds:
    """Unique request ids without a system call each: a random per-process prefix and a
    counter (uuid4 reads the OS's random source on every call, a measurable cost per request)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):010x}"


def _route_label(scope: Scope) -> str:
    # Never the raw path: unmatched paths are unbounded and would explode metric cardinality.
    path = getattr(scope.get("route"), "path", None)
    return scope.get("root_path", "") + path if path else "unmatched"


async def _send_internal_error(send: Send, error_id: int, request_id: str) -> None:
    body = b'{"error":{"id":%d,"message":"Internal Server Error"}}' % error_id
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
