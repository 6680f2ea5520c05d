"""The high-rate write operations (events, custom attributes), served straight off ASGI.

These five operations take most of an integration's traffic, and each does little: check the
token, decode and validate a small body, hand one write to the group-commit writer, answer
`{}`. Served through Starlette's router, exception middleware and request/response objects,
that framework work cost several times the operation's own. So an ingestion operation is a
plain ASGI app (`IngestionEndpoint`) with the same contract as `@operation`: bearer token (401),
rate limit (429 with `x-ratelimit-*`), scope (403), body size (413), decoding (400 naming the
field), the one error shape. It is still registered as a Starlette `Route` (so method checks,
the OpenAPI coverage and the conformance suite see it), and `IngestionLane`, in front of
Starlette, dispatches a POST to one of these exact paths to it directly.

A handler is a plain function from the caller's company, the decoded body and the receipt time
to the `PendingWrite` to commit; the answer is sent once that write's batch has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from heedful.errors import HeedfulError, Unauthorized
from heedful.http.operation import (
    decode_body,
    parse_bearer,
    receive_body,
    refuse_content_coding,
    require_scope,
    sole_authorization,
)
from heedful.http.responses import error_body
from heedful.oauth import service as oauth_service
from heedful.oauth.service import AuthContext
from heedful.runtime import Runtime

B = TypeVar("B")

_JSON_HEADERS = [(b"content-type", b"application/json")]
_EMPTY_OBJECT = b"{}"


@dataclass(frozen=True)
class PendingWrite:
    """What the group-commit writer should run: `fn(session, clock, payloads)` with this one."""

    fn: Callable[..., Any]
    payload: Any


Prepare = Callable[[int, B, datetime], PendingWrite]


class IngestionEndpoint(Generic[B]):
    """One ingestion operation as an ASGI app; see the module docstring."""

    def __init__(self, operation_id: str, model: type[B], prepare: Prepare[B]) -> None:
        self.operation_id = operation_id
        self.prepare = prepare
        self._decoder = msgspec.json.Decoder(model, strict=True)
        self.__name__ = prepare.__name__
        self.__doc__ = prepare.__doc__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: dict[str, Any] = scope.setdefault("state", {})
        state["operation_id"] = self.operation_id
        runtime: Runtime = scope["app"].state.runtime
        try:
            await self._serve(scope, receive, runtime, state)
        except HeedfulError as exc:
            await _send_error(send, state, exc)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": _headers(state.get("ratelimit_headers", {}), 2),
            }
        )
        await send({"type": "http.response.body", "body": _EMPTY_OBJECT})

    async def _serve(
        self, scope: Scope, receive: Receive, runtime: Runtime, state: dict[str, Any]
    ) -> None:
        token, declared_length, codings = _request_headers(scope["headers"])
        auth = await _authenticate(runtime, token)
        state["company_id"] = auth.company_id
        allowance = runtime.limiter.hit(auth.token_id, self.operation_id)
        if allowance is not None:
            state["ratelimit_headers"] = allowance.headers()
        require_scope(self.operation_id, auth.scopes)
        refuse_content_coding(codings)
        received_at = runtime.clock.now()
        settings = runtime.settings
        body = await receive_body(
            receive, declared_length, settings.max_body_bytes, settings.body_timeout_seconds
        )
        decoded = decode_body(body, self._decoder.decode)
        write = self.prepare(auth.company_id, decoded, received_at)
        await runtime.writer.submit(write.fn, write.payload)


def ingestion(operation_id: str, model: type[B]) -> Callable[[Prepare[B]], IngestionEndpoint[B]]:
    """Declare an ingestion operation: `prepare(company_id, body, received_at) -> PendingWrite`."""

    def decorate(prepare: Prepare[B]) -> IngestionEndpoint[B]:
        return IngestionEndpoint(operation_id, model, prepare)

    return decorate


class IngestionLane:
    """In front of the Starlette app: a POST to an ingestion path goes straight to its endpoint.

    Everything else, other methods on those paths included, goes to `app`.
    """

    def __init__(self, app: ASGIApp, mounts: dict[str, Iterable[BaseRoute]]) -> None:
        self.app = app
        self._endpoints: dict[str, IngestionEndpoint[Any]] = {
            prefix + route.path: route.endpoint
            for prefix, routes in mounts.items()
            for route in routes
            if isinstance(route, Route) and isinstance(route.endpoint, IngestionEndpoint)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            endpoint = self._endpoints.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self.app  # as Starlette sets it: the endpoint finds the runtime
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _request_headers(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[str, int | None, list[str]]:
    """The bearer token (401 without one), the declared length and the content codings."""
    authorization: list[str] = []
    codings: list[str] = []
    length: int | None = None
    for name, value in headers:
        if name == b"authorization":
            authorization.append(value.decode("latin-1"))
        elif name == b"content-length" and value.isdigit():
            length = int(value)
        elif name == b"content-encoding":
            codings.append(value.decode("latin-1"))
    token = parse_bearer(sole_authorization(authorization))
    if token is None:
        raise Unauthorized("Unauthorized: missing bearer token")
    return token, length, codings


async def _authenticate(runtime: Runtime, token: str) -> AuthContext:
    async def lookup() -> AuthContext:
        return await runtime.read(oauth_service.authenticate, runtime.clock, token)

    cached = runtime.auth_cache.fresh(token, lookup)
    if cached is not None:
        return cached
    return await runtime.auth_cache.authenticate(token, lookup)


def _headers(extra: dict[str, str], length: int) -> list[tuple[bytes, bytes]]:
    headers = [*_JSON_HEADERS, (b"content-length", str(length).encode())]
    headers.extend((name.lower().encode(), value.encode()) for name, value in extra.items())
    return headers


async def _send_error(send: Send, state: dict[str, Any], exc: HeedfulError) -> None:
    error_id, body = error_body(exc.message)
    state["error_id"], state["error_message"] = error_id, exc.message
    headers = _headers({**state.get("ratelimit_headers", {}), **exc.headers}, len(body))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
