"""Response helpers: msgspec-encoded JSON and the one error body."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from heedful.core.crypto import new_error_id
from heedful.errors import HeedfulError

log = logging.getLogger("heedful.http")
_encoder = msgspec.json.Encoder()


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        _encoder.encode(content), status, headers=headers, media_type="application/json"
    )


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """`{"error": {"id", "message"}}`; the id also goes into this request's log line."""
    error_id, body = error_body(message)
    request.state.error_id = error_id
    request.state.error_message = message
    merged = {**getattr(request.state, "ratelimit_headers", {}), **(headers or {})}
    return Response(body, status, headers=merged, media_type="application/json")


def error_body(message: str) -> tuple[int, bytes]:
    """A new error id and the one error body that carries it."""
    error_id = new_error_id()
    return error_id, _encoder.encode({"error": {"id": error_id, "message": message}})


def heedful_error_response(request: Request, exc: HeedfulError) -> Response:
    return error_response(request, exc.status, exc.message, exc.headers)
