"""The operator's view of webhooks and deliveries (admin API and CLI): JSON-ready dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from heedful.core import ids
from heedful.storage.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery
from heedful.webhooks.service import DeliveryRecord, disabled_at_text


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def webhook_view(hook: Webhook, *, with_key: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": ids.WEBHOOK.encode(hook.id),
        "url": hook.url,
        "type": hook.type,
        "events": list(hook.events),
        "companyId": ids.COMPANY.encode(hook.company_id),
        # The app that made it (only that app sees it), or null: made before apps owned theirs.
        "applicationId": None
        if hook.application_id is None
        else ids.APPLICATION.encode(hook.application_id),
        "disabledAt": disabled_at_text(hook.disabled_at),
        "deletedAt": disabled_at_text(hook.deleted_at),
        "consecutiveFailures": hook.consecutive_failures,
        "createdAt": _iso(hook.created_at),
    }
    if with_key:
        view["signingKey"] = hook.signing_key
    return view


def attempt_view(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "attemptedAt": _iso(attempt.attempted_at),
        "succeeded": attempt.succeeded,
        "statusCode": attempt.status_code,
        "latencyMs": attempt.latency_ms,
        "error": attempt.error,
        "responseBody": attempt.response_body,
    }


def delivery_view(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {
        "id": delivery.public_id,
        "webhookId": ids.WEBHOOK.encode(delivery.webhook_id),
        "companyId": ids.COMPANY.encode(delivery.company_id),
        "eventType": delivery.event_type,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "nextAttemptAt": _iso(delivery.next_attempt_at),
        "createdAt": _iso(delivery.created_at),
        "finishedAt": _iso(delivery.finished_at),
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "body": delivery.body,
        "attemptLog": [attempt_view(a) for a in attempts],
    }


def record_view(record: DeliveryRecord) -> dict[str, Any]:
    return delivery_view(record.delivery, record.attempts)
