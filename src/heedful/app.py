"""`create_app(settings)`: the ASGI application."""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Router

from heedful.admin.routes import routes as admin_routes
from heedful.attributes.routes import routes as attributes_routes
from heedful.catalog.files import sweep_partials
from heedful.catalog.routes import routes as catalog_routes
from heedful.catalog.routes import upload_routes as catalog_upload_routes
from heedful.config import Settings
from heedful.errors import HeedfulError
from heedful.events.routes import routes as events_routes
from heedful.http.ingestion import IngestionLane
from heedful.http.middleware import ObservedRequests
from heedful.http.responses import error_response, heedful_error_response
from heedful.identity.routes import routes as identity_routes
from heedful.jobs.queue import counts_by_state
from heedful.oauth.pages import routes as oauth_pages
from heedful.oauth.routes import routes as oauth_routes
from heedful.ops.metrics import Metrics
from heedful.ops.routes import routes as ops_routes
from heedful.privacy.routes import routes as privacy_routes
from heedful.runtime import Runtime, build_runtime
from heedful.subscriptions.routes import routes as subscriptions_routes
from heedful.webhooks.dispatcher import start_dispatcher
from heedful.webhooks.routes import routes as webhooks_routes

SWITCH_INTERVAL_SECONDS = 0.001

API_ROUTES: list[BaseRoute] = [
    *oauth_routes,
    *events_routes,
    *attributes_routes,
    *identity_routes,
    *webhooks_routes,
    *catalog_routes,
    *privacy_routes,
    *subscriptions_routes,
]


def create_app(
    settings: Settings, runtime: Runtime | None = None, *, run_worker: bool = False
) -> ObservedRequests:
    runtime = runtime or build_runtime(settings)

    def job_counts() -> dict[str, int]:
        with runtime.db.transaction() as session:
            return counts_by_state(session)

    metrics = Metrics(job_counts)
    app = Starlette(
        routes=[
            Mount("/v1", app=_exact(API_ROUTES)),
            Mount("/admin", app=_exact(admin_routes)),
            Mount("/oauth", app=_exact(oauth_pages)),  # the OAuth consent pages (HTML)
            *catalog_upload_routes,  # PUT /uploads/{token}: signed catalog upload URLs
            *ops_routes,
        ],
        exception_handlers={
            HeedfulError: _heedful_error,
            HTTPException: _http_exception,
            Exception: _unhandled,
        },
        lifespan=_lifespan(runtime, run_worker),
    )
    app.router.redirect_slashes = False
    app.state.runtime = runtime
    app.state.metrics = metrics
    # The signed upload URL's token is a credential: never in the request log.
    return ObservedRequests(
        IngestionLane(app, {"/v1": API_ROUTES}), metrics, token_prefixes=("/uploads/",)
    )


def _exact(routes: Sequence[BaseRoute]) -> Router:
    """Routes matched as written: a path with a trailing slash added or missing is an unknown
    route (404 in the error shape), not a redirect with an empty body to the other spelling."""
    return Router(routes=list(routes), redirect_slashes=False)


def _lifespan(
    runtime: Runtime, run_worker: bool
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Everything loaded so far (modules, SQLAlchemy's mappers, the spec) lives as long as
        # the process: out of the collector's sight, a full collection takes microseconds
        # instead of ~100 ms, a pause every request in flight would otherwise wait out.
        gc.freeze()
        # A thread that wants the GIL waits for its holder to give it up, at the latest after
        # the switch interval (5 ms by default). The event loop shares the GIL with the
        # group-commit writer and the job threads: 1 ms bounds what a request waits for it.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        stop = threading.Event()
        thread = None
        if run_worker:
            # Files a process that died mid-PUT left half-written (up to 2 GB each).
            upload_dir = Path(runtime.settings.catalog_upload_dir)
            await anyio.to_thread.run_sync(sweep_partials, upload_dir)
            worker = runtime.worker()
            thread = threading.Thread(
                target=worker.run_forever, args=(stop,), name="heedful-worker", daemon=True
            )
            thread.start()
            # Webhook deliveries have their own concurrent dispatcher (heedful.webhooks).
            deliveries = start_dispatcher(runtime.db, runtime.clock, runtime.settings, stop)
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=30)
                deliveries.join(timeout=30)

    return lifespan


async def _heedful_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HeedfulError)
    return heedful_error_response(request, exc)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "The specified resource was not found", 405: "Method Not Allowed"}
    message = messages.get(exc.status_code, str(exc.detail))
    return error_response(request, exc.status_code, message, dict(exc.headers or {}))


async def _unhandled(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server log (by ObservedRequests, with this id), never the client.
    return error_response(request, 500, "Internal Server Error")
