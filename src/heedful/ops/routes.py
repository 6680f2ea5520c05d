"""Health, readiness, metrics, the spec and its human-readable page."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from heedful.http.responses import json_response
from heedful.ops.docs import render_docs_page
from heedful.runtime import Runtime
from heedful.spec import served_spec


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    if await anyio.to_thread.run_sync(runtime.db.ping):
        return json_response({"status": "ready", "database": runtime.db.dialect})
    return json_response({"status": "unavailable", "database": runtime.db.dialect}, 503)


async def metrics(request: Request) -> Response:
    body = await anyio.to_thread.run_sync(request.app.state.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


async def openapi(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return Response(served_spec(runtime.settings.public_base_url), media_type="application/json")


async def docs(request: Request) -> Response:
    return HTMLResponse(render_docs_page(request.app.routes))


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]
