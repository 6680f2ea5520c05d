"""`@operation(operationId)`: authenticate, rate-limit, check scope, then run the handler.

Handlers receive an `ApiRequest` and stay thin: decode the body, call one service function
through `call()` (which runs it in a worker thread inside one transaction), shape the reply.

`@public_operation(operationId)` is the variant for the one operation without bearer auth (the
OAuth token exchange): no token and no scope; the body is read up front (size cap) and requests
are counted per caller (a key the route derives from the body, else the remote address).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Concatenate, ParamSpec, TypeVar

import msgspec
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from heedful.config import Settings
from heedful.core import nul
from heedful.core.numbers import parse_digits
from heedful.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
    UnsupportedMediaType,
)
from heedful.oauth import service as oauth_service
from heedful.oauth.scopes import missing_scope
from heedful.oauth.service import AuthContext
from heedful.runtime import Runtime

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


class PublicRequest:
    def __init__(self, request: Request, runtime: Runtime) -> None:
        self.request = request
        self.runtime = runtime
        self._body: bytes | None = None

    @property
    def path_params(self) -> dict[str, Any]:
        return self.request.path_params

    async def body(self) -> bytes:
        if self._body is None:
            self._body = await read_body(self.request, self.runtime.settings)
        return self._body

    async def decode(self, model: type[S]) -> S:
        """The JSON body as `model`; any mismatch is a 400 naming the field path."""
        return decode_json(await self.body(), model)

    async def call(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(session, ...)` in one transaction, off the event loop."""
        return await self.runtime.run(fn, *args, **kwargs)

    async def read(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run a read-only `fn(session, ...)`; it takes no write lock on SQLite."""
        return await self.runtime.read(fn, *args, **kwargs)


class ApiRequest(PublicRequest):
    def __init__(self, request: Request, runtime: Runtime, auth: AuthContext) -> None:
        super().__init__(request, runtime)
        self.auth = auth


Handler = Callable[[ApiRequest], Awaitable[Response]]
PublicHandler = Callable[[PublicRequest], Awaitable[Response]]
# The rate-limit key of an unauthenticated call, from its request and body (None: unknown).
CallerKey = Callable[[Request, bytes], str | None]
MORE_THAN_ONE_AUTHORIZATION = "More than one `Authorization` header: send one"
# The 400 of an operation whose spec gives its 400 a body of its own (privacy's).
InvalidRenderer = Callable[[Request, InvalidRequest], Response]


def operation(
    operation_id: str, *, on_invalid: InvalidRenderer | None = None
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """`on_invalid`: renders every 400 (`InvalidRequest`) of the operation, those of the
    checks made here before the handler included; without it they take the generic shape."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            request.state.operation_id = operation_id
            try:
                response = await _checked(request, operation_id, handler)
            except InvalidRequest as exc:
                if on_invalid is None:
                    raise
                response = on_invalid(request, exc)
            response.headers.update(getattr(request.state, "ratelimit_headers", {}))
            return response

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        endpoint.operation_id = operation_id  # type: ignore[attr-defined]
        return endpoint

    return decorate


async def _checked(request: Request, operation_id: str, handler: Handler) -> Response:
    """Token (401), rate limit (429), scope (403), NUL-free parameters, then the handler."""
    runtime: Runtime = request.app.state.runtime
    auth = await _authenticate(request, runtime)
    request.state.company_id = auth.company_id
    allowance = runtime.limiter.hit(auth.token_id, operation_id)
    if allowance is not None:
        request.state.ratelimit_headers = allowance.headers()
    require_scope(operation_id, auth.scopes)
    refuse_nul_parameters(request)
    return await handler(ApiRequest(request, runtime, auth))


def public_operation(
    operation_id: str, *, caller: CallerKey | None = None
) -> Callable[[PublicHandler], Callable[[Request], Awaitable[Response]]]:
    def decorate(handler: PublicHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            request.state.operation_id = operation_id
            runtime: Runtime = request.app.state.runtime
            public = PublicRequest(request, runtime)
            body = await public.body()
            named = caller(request, body) if caller else None
            key = f"caller:{named}" if named else f"address:{_remote_address(request)}"
            allowance = runtime.limiter.hit(key, operation_id)
            if allowance is not None:
                request.state.ratelimit_headers = allowance.headers()
            refuse_nul_parameters(request)
            response = await handler(public)
            response.headers.update(getattr(request.state, "ratelimit_headers", {}))
            return response

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        endpoint.operation_id = operation_id  # type: ignore[attr-defined]
        return endpoint

    return decorate


def _remote_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def bearer_token(request: Request) -> str | None:
    return parse_bearer(sole_authorization(request.headers.getlist("authorization")))


def sole_authorization(values: list[str]) -> str:
    """The value of the request's one `Authorization` header ("" without one). Several are a
    400 (RFC 6750 §3.1): which credential counts would be a guess, and one guessed apart from
    another would let one request act as two companies."""
    if len(values) > 1:
        raise InvalidRequest(MORE_THAN_ONE_AUTHORIZATION)
    return values[0] if values else ""


def parse_bearer(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value; None if it is not one."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def require_scope(operation_id: str, scopes: Iterable[str]) -> None:
    """403 naming the scope when a token with `scopes` may not call the operation."""
    needed = missing_scope(operation_id, scopes)
    if needed is not None:
        raise Forbidden(f"Access Denied: this token lacks the '{needed}' scope")


async def _authenticate(request: Request, runtime: Runtime) -> AuthContext:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Unauthorized: missing bearer token")
    return await runtime.read(oauth_service.authenticate, runtime.clock, token)


async def read_body(request: Request, settings: Settings) -> bytes:
    refuse_content_coding(request.headers.getlist("content-encoding"))
    length = parse_digits(request.headers.get("content-length", ""), 30)
    return await receive_body(
        request.receive, length, settings.max_body_bytes, settings.body_timeout_seconds
    )


def refuse_content_coding(values: Iterable[str]) -> None:
    """415 for a body in a content coding (gzip, br, ...): heedful reads bodies as sent, so a
    coded one would be misread, and a plain one labelled coded taken at odds with its label
    (RFC 9110 §8.4.1)."""
    for value in values:
        if {coding.strip().lower() for coding in value.split(",")} - {"", "identity"}:
            raise UnsupportedMediaType(
                f"Content-Encoding `{value}` is not supported: send the body uncompressed"
            )


async def receive_body(receive: Receive, declared: int | None, limit: int, timeout: float) -> bytes:
    """The whole request body from the ASGI `receive`: 413 when the declared or streamed size
    passes `limit`, 400 when the client goes away before sending it all, 408 when it sends
    nothing for `timeout` seconds."""
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive_within(receive, timeout)
        if message["type"] == "http.disconnect":
            # Nobody will read the answer, but the request log should say what happened
            # rather than report an unhandled error.
            raise InvalidRequest("Client disconnected before sending the whole body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
        if not message.get("more_body", False):
            return b"".join([*chunks, chunk]) if chunks else chunk
        chunks.append(chunk)


async def receive_within(receive: Receive, timeout: float) -> Message:
    """The next ASGI message of the request; a 408 when none comes within `timeout` seconds.

    Without it a client that declares a body and sends part of it (or none) would hold its
    connection, and the task reading it, for ever. This is on the path of every request with
    a body, so it arms one bare timer (`call_later`, ~4 µs) rather than `asyncio.timeout`
    (~10 µs): the timer cancels this task with a message of its own, told apart from any
    other cancellation (a shutdown's) by that message."""
    task = asyncio.current_task()
    if task is None:  # not in a task (no ASGI server runs one this way): no deadline
        return await receive()
    timer = asyncio.get_running_loop().call_later(timeout, task.cancel, _BODY_TIMED_OUT)
    try:
        return await receive()
    except asyncio.CancelledError as exc:
        if exc.args != (_BODY_TIMED_OUT,):
            raise
        task.uncancel()
        raise RequestTimeout(
            f"Request body not received in time: nothing came for {timeout:g} seconds"
        ) from None
    finally:
        timer.cancel()


_BODY_TIMED_OUT = "heedful: request body timed out"


def decode_json(body: bytes, model: type[S]) -> S:
    return decode_body(body, lambda data: msgspec.json.decode(data, type=model, strict=True))


def decode_body(body: bytes, decode: Callable[[bytes], S]) -> S:
    """`decode(body)`, with an empty body, a mismatch or bad JSON as a 400 naming the field."""
    if not body.strip():
        raise InvalidRequest("Request body is required")
    try:
        decoded = decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid request body: {describe_validation_error(exc)}") from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"Malformed JSON body: {exc}") from exc
    except UnicodeDecodeError as exc:
        # msgspec checks UTF-8 only inside strings and keys, and raises Python's error there,
        # whose position counts from the start of that string.
        raise InvalidRequest(f"Malformed JSON body: {_utf8_problem(body)}") from exc
    except RecursionError as exc:
        # msgspec recurses once per level of nesting, even through fields it skips.
        raise InvalidRequest("Malformed JSON body: nested too deeply") from exc
    refuse_nul(body)
    return decoded


def _utf8_problem(body: bytes) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    return "invalid UTF-8"


def refuse_nul(body: bytes) -> None:
    """400 naming the first string (or object key) of a JSON body that holds a NUL.

    PostgreSQL's text types cannot store U+0000 (SQLite's can), so such a string passed every
    check and failed the INSERT or SELECT: a 500 on PostgreSQL only."""
    if not nul.maybe_in_json(body):
        return
    where = nul.path_in(msgspec.json.decode(body))
    if where is not None:
        raise InvalidRequest(f"`{where or 'body'}` must not contain NUL characters (\\u0000)")


def refuse_nul_parameters(request: Request) -> None:
    """`refuse_nul` for the query (400 naming the parameter) and the path (a path with a NUL
    names nothing: 404)."""
    if any(nul.NUL in value for value in request.path_params.values() if isinstance(value, str)):
        raise NotFound()
    for name, value in request.query_params.multi_items():
        if nul.NUL in value:
            raise InvalidRequest(f"Query parameter `{name}` must not contain NUL characters")


def describe_validation_error(exc: msgspec.ValidationError) -> str:
    """msgspec says `... - at `$.user.phone``; clients know that field as `user.phone`."""
    text = str(exc)
    message, sep, path = text.rpartition(" - at ")
    if not sep:
        return text
    field_path = path.strip("`").removeprefix("$").lstrip(".") or "body"
    return f"{message} (field `{field_path}`)"
