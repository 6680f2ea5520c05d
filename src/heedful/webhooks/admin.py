"""Admin HTTP endpoints of the webhooks area (guarded by HEEDFUL_ADMIN_TOKEN): a webhook with
its signing key, its delivery log, and redelivery."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.admin.guard import admin_only
from heedful.core.numbers import parse_digits
from heedful.errors import InvalidRequest
from heedful.http.responses import json_response
from heedful.runtime import Runtime
from heedful.webhooks import service
from heedful.webhooks.views import record_view, webhook_view

MAX_LIMIT = 1000


@admin_only
async def show_webhook(request: Request, runtime: Runtime) -> Response:
    """One webhook of any company, with its signing key."""
    public_id = request.path_params["webhookId"]

    def show(session: Session) -> dict[str, Any]:
        return webhook_view(service.operator_webhook(session, public_id), with_key=True)

    return json_response({"webhook": await runtime.read(show)})


@admin_only
async def webhook_deliveries(request: Request, runtime: Runtime) -> Response:
    """The webhook's deliveries, newest first, each with every attempt.
    Query: `failed=true` (only failed or failing ones), `limit` (1-1000, default 100)."""
    public_id = request.path_params["webhookId"]
    failed = request.query_params.get("failed", "false").lower()
    if failed not in ("true", "false", "1", "0"):
        raise InvalidRequest("`failed` must be true or false")
    limit = parse_digits(request.query_params.get("limit", "100"), 6)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be an integer from 1 to {MAX_LIMIT}")

    def log(session: Session) -> list[dict[str, Any]]:
        records = service.delivery_log(
            session,
            webhook_public_id=public_id,
            failed_only=failed in ("true", "1"),
            limit=limit,
        )
        return [record_view(record) for record in records]

    return json_response({"deliveries": await runtime.read(log)})


@admin_only
async def redeliver(request: Request, runtime: Runtime) -> Response:
    """Send a finished delivery again now (same body, same delivery id)."""
    public_id = request.path_params["deliveryId"]

    def again(session: Session) -> dict[str, Any]:
        delivery = service.redeliver(session, runtime.clock, public_id)
        return {"id": delivery.public_id, "state": delivery.state}

    return json_response({"delivery": await runtime.run(again)}, 202)


routes = [
    Route("/webhooks/{webhookId}", show_webhook, methods=["GET"]),
    Route("/webhooks/{webhookId}/deliveries", webhook_deliveries, methods=["GET"]),
    Route("/webhook-deliveries/{deliveryId}/redeliver", redeliver, methods=["POST"]),
]
