"""Every query of the webhooks area. Each filters by company_id, except the worker's and the
operator's (admin API, CLI) cross-tenant queries, which say why."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, true, update
from sqlalchemy.orm import Session

from heedful.storage.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery

PENDING, SENDING, SUCCEEDED, FAILED, CANCELLED = (
    "pending",
    "sending",
    "succeeded",
    "failed",
    "cancelled",
)
OPEN_STATES = (PENDING, SENDING)


def _seen_by(application_id: int | None) -> ColumnElement[bool]:
    """An app sees its own webhooks and those no app owns; no app given: every webhook."""
    if application_id is None:
        return true()
    return or_(Webhook.application_id == application_id, Webhook.application_id.is_(None))


def webhooks_of(
    session: Session, company_id: int, application_id: int | None = None
) -> Sequence[Webhook]:
    """The company's webhooks that still exist (enabled or disabled) and that the app sees,
    oldest first."""
    stmt = select(Webhook).where(
        Webhook.company_id == company_id,
        Webhook.deleted_at.is_(None),
        _seen_by(application_id),
    )
    return session.scalars(stmt.order_by(Webhook.id)).all()


def owned_by_application(
    session: Session, company_id: int, application_id: int
) -> Sequence[Webhook]:
    """The webhooks the app made in the company that still exist, locked (uninstalling)."""
    stmt = select(Webhook).where(
        Webhook.company_id == company_id,
        Webhook.application_id == application_id,
        Webhook.deleted_at.is_(None),
    )
    return session.scalars(stmt.order_by(Webhook.id).with_for_update()).all()


def enabled_webhooks_of(session: Session, company_id: int) -> Sequence[Webhook]:
    stmt = select(Webhook).where(
        Webhook.company_id == company_id,
        Webhook.deleted_at.is_(None),
        Webhook.disabled_at.is_(None),
    )
    return session.scalars(stmt.order_by(Webhook.id)).all()


def webhook(
    session: Session,
    company_id: int,
    webhook_id: int,
    *,
    application_id: int | None = None,
    lock: bool = False,
) -> Webhook | None:
    """`lock`: for a change that depends on what is read (PostgreSQL then re-checks the
    row once a concurrent change commits; SQLite runs one writer at a time anyway)."""
    stmt = select(Webhook).where(
        Webhook.id == webhook_id,
        Webhook.company_id == company_id,
        Webhook.deleted_at.is_(None),
        _seen_by(application_id),
    )
    return session.scalars(stmt.with_for_update() if lock else stmt).first()


def any_webhook(session: Session, webhook_id: int) -> Webhook | None:
    # Unscoped on purpose: the operator's view (admin API, CLI) spans every company, and shows
    # deleted webhooks too.
    return session.get(Webhook, webhook_id)


def cancel_open_deliveries(
    session: Session, company_id: int, webhook_id: int, now: datetime
) -> int:
    """Pending retries of a disabled or deleted webhook stop. A POST already in flight ends
    as it ends; its outcome is recorded but schedules nothing further."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.company_id == company_id,
            WebhookDelivery.webhook_id == webhook_id,
            WebhookDelivery.state == PENDING,
        )
        .values(state=CANCELLED, finished_at=now, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def all_webhooks(session: Session, include_deleted: bool = False) -> Sequence[Webhook]:
    # Unscoped on purpose: the operator's list (CLI) spans every company.
    stmt = select(Webhook)
    if not include_deleted:
        stmt = stmt.where(Webhook.deleted_at.is_(None))
    return session.scalars(stmt.order_by(Webhook.id)).all()


def deliveries(
    session: Session,
    *,
    webhook_id: int | None = None,
    failed_only: bool = False,
    limit: int = 100,
) -> Sequence[WebhookDelivery]:
    # Unscoped on purpose: the operator's delivery log (admin API, CLI) spans every company;
    # `webhook_id` narrows it to one webhook (and so to one company).
    stmt = select(WebhookDelivery)
    if webhook_id is not None:
        stmt = stmt.where(WebhookDelivery.webhook_id == webhook_id)
    if failed_only:
        stmt = stmt.where(
            (WebhookDelivery.state == FAILED)
            | (WebhookDelivery.last_error.is_not(None) & (WebhookDelivery.state != SUCCEEDED))
        )
    return session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)).all()


def delivery_by_public_id(session: Session, public_id: str) -> WebhookDelivery | None:
    # Unscoped on purpose: operator tooling (redeliver) addresses deliveries by their global id.
    # Locked: redeliver checks the state, then writes it; without the lock two at once on
    # PostgreSQL both saw the finished state (SQLite runs one writer at a time).
    stmt = select(WebhookDelivery).where(WebhookDelivery.public_id == public_id)
    return session.scalars(stmt.with_for_update()).first()


def attempts_of(
    session: Session, company_id: int, delivery_ids: Sequence[int]
) -> Sequence[WebhookAttempt]:
    if not delivery_ids:
        return []
    stmt = select(WebhookAttempt).where(
        WebhookAttempt.company_id == company_id,
        WebhookAttempt.delivery_id.in_(delivery_ids),
    )
    return session.scalars(stmt.order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)).all()
