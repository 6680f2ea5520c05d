"""Helpers: make webhooks and emit events through the real services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from heedful.core import ids
from heedful.runtime import Runtime
from heedful.storage.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery
from heedful.webhooks import service
from heedful.webhooks.payloads import Subscriber

SUBSCRIBER = Subscriber(external_id=16467358, phone="+15555555555", email="test@gmail.com")


@dataclass(frozen=True)
class MadeWebhook:
    id: int
    public_id: str
    signing_key: str
    company_id: int


def make_webhook(
    runtime: Runtime,
    company_id: int,
    url: str,
    events: Sequence[str] = ("sms.sent",),
) -> MadeWebhook:
    with runtime.db.transaction() as session:
        hook = service.create_webhook(
            session, runtime.clock, company_id, url, list(events), development=True
        )
        return MadeWebhook(hook.id, ids.WEBHOOK.encode(hook.id), hook.signing_key, company_id)


def emit(
    runtime: Runtime,
    company_id: int,
    event_type: str = "sms.sent",
    parts: dict[str, Any] | None = None,
    subscriber: Subscriber = SUBSCRIBER,
    occurred_at: datetime | None = None,
) -> int:
    if parts is None:
        parts = {"message": {"id": ids.MESSAGE.encode(1), "type": "ONE_TIME", "text": "Hi!"}}
    with runtime.db.transaction() as session:
        return service.emit(
            session, runtime.clock, company_id, event_type, subscriber, parts, occurred_at
        )


def deliveries(runtime: Runtime) -> list[WebhookDelivery]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def attempts(runtime: Runtime) -> list[WebhookAttempt]:
    with runtime.db.transaction() as session:
        stmt = select(WebhookAttempt).order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
        return list(session.scalars(stmt))


def webhook_row(runtime: Runtime, webhook_id: int) -> Webhook:
    with runtime.db.transaction() as session:
        hook = session.get(Webhook, webhook_id)
        assert hook is not None
        return hook
