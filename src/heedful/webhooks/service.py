"""Webhook use cases: manage a company's webhooks, and `emit` events to them.

`emit` is the one entry point other areas use: called inside their transaction, it writes one
delivery per enabled webhook of the company subscribed to the event type. The deliveries are
sent by the dispatcher (`heedful.webhooks.dispatcher`) once that transaction commits.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy.orm import Session

from heedful.core import ids
from heedful.core.clock import Clock
from heedful.core.crypto import new_secret
from heedful.errors import Conflict, InvalidRequest, NotFound, quoted
from heedful.storage.models import Company
from heedful.storage.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery
from heedful.webhooks import repository, wakeup
from heedful.webhooks.guard import TargetPolicy
from heedful.webhooks.payloads import (
    EVENT_TYPES,
    CompanyRef,
    Subscriber,
    build_parts,
    envelope,
)
from heedful.webhooks.repository import CANCELLED, FAILED, PENDING, SENDING, SUCCEEDED

__all__ = [
    "EVENT_TYPES",
    "Subscriber",
    "create_webhook",
    "delete_webhook",
    "emit",
    "list_webhooks",
    "update_webhook",
]

MAX_URL_LENGTH = 2048
INSTALLED = "INSTALLED"  # what create/update call an API-made webhook
_encoder = msgspec.json.Encoder()


def disabled_at_text(moment: datetime | None) -> str | None:
    """`disabledAt` as the spec describes it: `YYYY-MM-DD hh:mm:ss` (UTC)."""
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


# --- management -------------------------------------------------------------------------------


def list_webhooks(
    session: Session, company_id: int, application_id: int | None = None
) -> Sequence[Webhook]:
    """What `application_id`'s app sees (its own, and those no app owns); None: every one."""
    return repository.webhooks_of(session, company_id, application_id)


def create_webhook(
    session: Session,
    clock: Clock,
    company_id: int,
    url: str,
    events: Sequence[str],
    *,
    development: bool,
    allow_hosts: Sequence[str] = (),
    application_id: int | None = None,
) -> Webhook:
    """`application_id`: the app making it, the only one that sees it from then on."""
    now = clock.now()
    hook = Webhook(
        company_id=company_id,
        application_id=application_id,
        url=validate_url(url, development=development, allow_hosts=allow_hosts),
        events=validate_events(events),
        type=INSTALLED,
        signing_key=new_signing_key(),
        created_at=now,
        updated_at=now,
        disabled_at=None,
        deleted_at=None,
        consecutive_failures=0,
        failing_since=None,
    )
    session.add(hook)
    session.flush()
    return hook


def update_webhook(
    session: Session,
    clock: Clock,
    company_id: int,
    public_id: str,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    disabled: bool | None = None,
    development: bool,
    allow_hosts: Sequence[str] = (),
    application_id: int | None = None,
) -> Webhook:
    """Change what is given; `disabled: true` disables (pending retries stop), `false` enables."""
    hook = _owned(session, company_id, public_id, application_id)
    now = clock.now()
    if url is not None:
        hook.url = validate_url(url, development=development, allow_hosts=allow_hosts)
    if events is not None:
        hook.events = validate_events(events)
    if disabled is True and hook.disabled_at is None:
        hook.disabled_at = now
        repository.cancel_open_deliveries(session, company_id, hook.id, now)
    elif disabled is False and hook.disabled_at is not None:
        hook.disabled_at = None
        hook.consecutive_failures = 0
        hook.failing_since = None
    hook.updated_at = now
    session.flush()
    return hook


def delete_webhook(
    session: Session,
    clock: Clock,
    company_id: int,
    public_id: str,
    application_id: int | None = None,
) -> None:
    """Gone from the API at once; pending retries stop. Its delivery log stays for operators."""
    _retire(session, _owned(session, company_id, public_id, application_id), clock.now())


def delete_application_webhooks(
    session: Session, clock: Clock, company_id: int, application_id: int
) -> int:
    """The app is uninstalled from the company: the webhooks it made there are deleted (no
    more of the company's data goes to it); returns how many."""
    hooks = repository.owned_by_application(session, company_id, application_id)
    now = clock.now()
    for hook in hooks:
        _retire(session, hook, now)
    return len(hooks)


def _retire(session: Session, hook: Webhook, now: datetime) -> None:
    hook.deleted_at = now
    if hook.disabled_at is None:
        hook.disabled_at = now
    hook.updated_at = now
    repository.cancel_open_deliveries(session, hook.company_id, hook.id, now)


def _owned(
    session: Session, company_id: int, public_id: str, application_id: int | None
) -> Webhook:
    """The webhook, locked: an update or delete racing a delete then finds it gone (404).
    Another app's webhook is not found either."""
    number = ids.WEBHOOK.decode(public_id)
    hook = None
    if number is not None:
        hook = repository.webhook(
            session, company_id, number, application_id=application_id, lock=True
        )
    if hook is None:
        raise NotFound(f"Webhook `webhookId` {quoted(public_id)} not found")
    return hook


def new_signing_key() -> str:
    return new_secret(nbytes=32)


def validate_url(url: str, *, development: bool, allow_hosts: Sequence[str] = ()) -> str:
    """An absolute http(s) URL with a host; https is required outside development mode, and
    an address given literally must be one the SSRF guard lets deliveries go to."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"`url` must be an absolute URL of 1 to {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidRequest("`url` must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port  # raises ValueError on a port out of 0-65535
    except ValueError as exc:
        raise InvalidRequest(f"`url` is not a valid URL: {exc}") from exc
    if "\\" in parts.netloc:
        # Browsers read it as a "/" (the host then differs); the HTTP client refuses the URL.
        raise InvalidRequest("`url` must not contain a backslash before its path")
    if port == 0:
        # No server listens on port 0; the dispatcher would have sent to the default port.
        raise InvalidRequest("`url` has port 0, which no server listens on")
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest("`url` must be an absolute http(s) URL, e.g. https://example.com/hook")
    if not host:
        raise InvalidRequest("`url` must include a host name")
    if not _valid_host(host):
        raise InvalidRequest(f"`url` has an invalid host {host!r}")
    if parts.scheme != "https" and not development:
        raise InvalidRequest("`url` must use https (plain http is accepted in development mode)")
    # The dispatcher's SSRF guard would refuse every delivery to it; say so now.
    refusal = TargetPolicy(development, tuple(allow_hosts)).literal_refusal(host)
    if refusal is not None:
        raise InvalidRequest(f"`url` points to {refusal} ({host}), where webhooks are not sent")
    return url


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63
        and all(ch.isalnum() or ch in "-_" for ch in label)
        and not label.startswith("-")
        and label.isascii()
        for label in labels
    )


def validate_events(events: Sequence[str]) -> list[str]:
    if not events:
        raise InvalidRequest("`events` must list at least one event type")
    chosen: list[str] = []
    for index, name in enumerate(events):
        if name not in EVENT_TYPES:
            raise InvalidRequest(
                f"`events[{index}]`: unknown event type {name!r} (case-sensitive; one of "
                f"{', '.join(EVENT_TYPES)})"
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


# --- fan-out ----------------------------------------------------------------------------------


def emit(
    session: Session,
    clock: Clock,
    company_id: int,
    event_type: str,
    subscriber: Subscriber,
    parts: dict[str, Any],
    occurred_at: datetime | None = None,
) -> int:
    """Called inside the caller's transaction; enqueues one delivery per enabled webhook of that
    company subscribed to `event_type`; returns how many were enqueued.

    `parts` are the per-type objects (`{"user_property": {...}}`, `{"subscription": {...},
    "creative": {...}}`, `{"message": {...}}`, ...); they are checked against the event type's
    documented shape even when no webhook listens (a `ValueError` is a bug in the caller).
    """
    built = build_parts(event_type, parts)
    targets = [
        hook
        for hook in repository.enabled_webhooks_of(session, company_id)
        if event_type in hook.events
    ]
    if not targets:
        return 0
    company = session.get(Company, company_id)
    if company is None:
        raise ValueError(f"no company {company_id}")
    now = clock.now()
    payload = envelope(
        event_type,
        occurred_at or now,
        CompanyRef(company.name, ids.COMPANY.encode(company.id)),
        subscriber,
        built,
    )
    body = _encoder.encode(payload).decode("utf-8")
    session.add_all(
        WebhookDelivery(
            company_id=company_id,
            webhook_id=hook.id,
            public_id=str(uuid.uuid4()),
            event_type=event_type,
            body=body,
            state=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for hook in targets
    )
    session.flush()
    wakeup.wake_after_commit(session)
    return len(targets)


# --- operator views (admin API, CLI) ------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRecord:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def operator_webhook(session: Session, public_id: str) -> Webhook:
    """Any company's webhook, deleted ones included (the operator's view)."""
    number = ids.WEBHOOK.decode(public_id)
    hook = None if number is None else repository.any_webhook(session, number)
    if hook is None:
        raise NotFound(f"Webhook {quoted(public_id)} not found")
    return hook


def delivery_log(
    session: Session,
    *,
    webhook_public_id: str | None = None,
    failed_only: bool = False,
    limit: int = 100,
) -> list[DeliveryRecord]:
    webhook_id = None
    if webhook_public_id is not None:
        webhook_id = operator_webhook(session, webhook_public_id).id
    found = repository.deliveries(
        session, webhook_id=webhook_id, failed_only=failed_only, limit=limit
    )
    attempts: dict[int, list[WebhookAttempt]] = {d.id: [] for d in found}
    by_company: dict[int, list[int]] = {}
    for delivery in found:
        by_company.setdefault(delivery.company_id, []).append(delivery.id)
    for company_id, delivery_ids in by_company.items():
        for attempt in repository.attempts_of(session, company_id, delivery_ids):
            attempts[attempt.delivery_id].append(attempt)
    return [DeliveryRecord(d, attempts[d.id]) for d in found]


def redeliver(session: Session, clock: Clock, delivery_public_id: str) -> WebhookDelivery:
    """Send a finished delivery again, now, with the same body and delivery id."""
    delivery = repository.delivery_by_public_id(session, delivery_public_id)
    if delivery is None:
        raise NotFound(f"Delivery {quoted(delivery_public_id)} not found")
    if delivery.state in (PENDING, SENDING):
        raise Conflict(f"Delivery {delivery_public_id!r} is still {delivery.state}")
    hook = repository.webhook(session, delivery.company_id, delivery.webhook_id)
    if hook is None or hook.disabled_at is not None:
        raise Conflict("The webhook of this delivery is deleted or disabled")
    delivery.state = PENDING
    delivery.next_attempt_at = clock.now()
    delivery.finished_at = None
    session.flush()
    wakeup.wake_after_commit(session)
    return delivery


FINISHED_STATES = (SUCCEEDED, FAILED, CANCELLED)
