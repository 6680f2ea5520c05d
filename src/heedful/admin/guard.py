"""The /admin guard: a bearer token equal to HEEDFUL_ADMIN_TOKEN, or the routes do not exist."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from heedful.errors import NotFound, Unauthorized
from heedful.http.operation import bearer_token, refuse_nul_parameters
from heedful.runtime import Runtime

AdminEndpoint = Callable[[Request, Runtime], Awaitable[Response]]


def admin_only(handler: AdminEndpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        request.state.operation_id = f"admin.{handler.__name__}"
        expected = runtime.settings.admin_token
        if expected is None or not expected.get_secret_value():
            # Without an admin token the admin API is not there at all.
            raise NotFound()
        given = bearer_token(request) or ""
        if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
            raise Unauthorized("Unauthorized: admin token required")
        refuse_nul_parameters(request)
        return await handler(request, runtime)

    endpoint.__name__ = handler.__name__
    return endpoint
