"""HTTP routes of the webhooks area: the four management operations."""

from __future__ import annotations

from typing import TypeVar

from msgspec import UnsetType
from starlette.responses import Response

from heedful.core import ids
from heedful.http.operation import ApiRequest, operation
from heedful.http.responses import json_response
from heedful.http.routing import COLLECTION_METHODS, ITEM_METHODS, SharedPathRoute
from heedful.storage.models.webhooks import Webhook
from heedful.webhooks import service
from heedful.webhooks.schemas import (
    CreateWebhookRequestDto,
    CreateWebhookResponseDto,
    GetWebhookResponseDto,
    GetWebhooksResponseDto,
    UpdateWebhookRequestDto,
    UpdateWebhookResponseDto,
)

T = TypeVar("T")

# The list calls an API-made webhook a SUBSCRIPTION webhook; create and update call it
# INSTALLED (the spec's two descriptions of the same thing).
LIST_TYPE = {"INSTALLED": "SUBSCRIPTION"}


def _created(
    hook: Webhook, dto: type[CreateWebhookResponseDto] = CreateWebhookResponseDto
) -> CreateWebhookResponseDto:
    return dto(
        id=ids.WEBHOOK.encode(hook.id),
        url=hook.url,
        events=list(hook.events),
        type=hook.type,
        disabledAt=service.disabled_at_text(hook.disabled_at),
    )


def _listed(hook: Webhook) -> GetWebhookResponseDto:
    return GetWebhookResponseDto(
        id=ids.WEBHOOK.encode(hook.id),
        url=hook.url,
        type=LIST_TYPE.get(hook.type, hook.type),
        events=list(hook.events),
        companyId=ids.COMPANY.encode(hook.company_id),
        disabledAt=service.disabled_at_text(hook.disabled_at),
    )


def _given(value: T | UnsetType) -> T | None:
    return None if isinstance(value, UnsetType) else value


def _development(request: ApiRequest) -> bool:
    return request.runtime.settings.env == "development"


@operation("getWebhooks")
async def get_webhooks(request: ApiRequest) -> Response:
    """The calling app's webhooks in its company (enabled and disabled; deleted ones are
    gone); another app's are not shown."""
    hooks = await request.read(
        service.list_webhooks, request.auth.company_id, request.auth.application_id
    )
    return json_response(GetWebhooksResponseDto(webhooks=[_listed(hook) for hook in hooks]))


@operation("createWebhook")
async def create_webhook(request: ApiRequest) -> Response:
    """Create a webhook with its own signing key (not returned, as with the vendor)."""
    body = await request.decode(CreateWebhookRequestDto)
    hook = await request.call(
        service.create_webhook,
        request.runtime.clock,
        request.auth.company_id,
        body.url,
        body.events,
        development=_development(request),
        allow_hosts=request.runtime.settings.webhook_allow_hosts,
        application_id=request.auth.application_id,
    )
    return json_response(_created(hook), 201)


@operation("updateWebhook")
async def update_webhook(request: ApiRequest) -> Response:
    """Change the URL or events; `disabled: true` disables, `false` re-enables."""
    body = await request.decode(UpdateWebhookRequestDto)
    hook = await request.call(
        service.update_webhook,
        request.runtime.clock,
        request.auth.company_id,
        request.path_params["webhookId"],
        url=_given(body.url),
        events=_given(body.events),
        disabled=_given(body.disabled),
        development=_development(request),
        allow_hosts=request.runtime.settings.webhook_allow_hosts,
        application_id=request.auth.application_id,
    )
    return json_response(_created(hook, UpdateWebhookResponseDto))


@operation("deleteWebhook")
async def delete_webhook(request: ApiRequest) -> Response:
    """Delete a webhook: gone from the list, and no further deliveries (retries included)."""
    await request.call(
        service.delete_webhook,
        request.runtime.clock,
        request.auth.company_id,
        request.path_params["webhookId"],
        request.auth.application_id,
    )
    return Response(status_code=204)


routes = [
    SharedPathRoute("/webhooks", get_webhooks, method="GET", allow=COLLECTION_METHODS),
    SharedPathRoute("/webhooks", create_webhook, method="POST", allow=COLLECTION_METHODS),
    SharedPathRoute("/webhooks/{webhookId}", update_webhook, method="PUT", allow=ITEM_METHODS),
    SharedPathRoute("/webhooks/{webhookId}", delete_webhook, method="DELETE", allow=ITEM_METHODS),
]
