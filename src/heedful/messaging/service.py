"""Messaging use cases: queue a message from a template, send it (a job), record inbound texts,
list messages, set a company's templates.

Every outbound text or email is a `messages` row, written in the caller's transaction together
with a `messaging.send` job. The job hands it to the transport for its channel; a sent text
fires `sms.sent`. A transport failure is recorded on the message and retried by a new job with
backoff, up to `HEEDFUL_MESSAGE_MAX_ATTEMPTS`; then the message is `failed` (at once when
the transport finds it unsendable; after the job's own retries when the send job itself dies).

The send job runs inside the worker's transaction, so the SMTP conversation happens while that
transaction is open: on PostgreSQL that locks only the job and message rows; on SQLite it holds
the database's write lock, which is why `HEEDFUL_SMTP_TIMEOUT` is short (5 s) and an SQLite
deployment should point at a nearby relay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from heedful.core import ids
from heedful.core.clock import Clock
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.jobs.queue import enqueue
from heedful.messaging import repository, templates
from heedful.messaging.templates import EMAIL, TEXT
from heedful.messaging.transports import (
    Outgoing,
    TransportError,
    Transports,
    UnsendableMessage,
)
from heedful.storage.models import Company
from heedful.storage.models.messaging import Message, MessageTemplate
from heedful.webhooks.payloads import SMS_SENT
from heedful.webhooks.service import Subscriber, emit

SEND_JOB = "messaging.send"
OUTBOUND, INBOUND = "outbound", "inbound"
QUEUED, SENT, FAILED, RECEIVED = "queued", "sent", "failed", "received"
MAX_RETRY_DELAY = 3600.0


@dataclass(frozen=True)
class SendPolicy:
    max_attempts: int = 5
    retry_base: float = 30.0

    def delay(self, attempts: int) -> timedelta:
        # Doubling stops at the cap: past ~1,000 attempts 2**n would not even fit a float.
        doublings = min(max(attempts - 1, 0), 64)
        return timedelta(seconds=min(self.retry_base * 2**doublings, MAX_RETRY_DELAY))


def subscriber_of(
    session: Session, company_id: int, user_id: int, address: str | None = None
) -> Subscriber:
    """The webhook `subscriber` of a user, from the identity graph. `address`: the phone or
    email the event came through or went to; a user can hold several (after a merge), and the
    payload names that one rather than the user's first."""
    found = identity.profile(session, company_id, user_id)
    if found is None:
        return Subscriber(external_id=user_id)
    phone, email = found.phone, found.email
    if address is not None and ident.Identifier(ident.PHONE, address) in found.identifiers:
        phone = address
    elif address is not None and ident.Identifier(ident.EMAIL, address) in found.identifiers:
        email = address
    return Subscriber(
        external_id=user_id,
        phone=phone,
        email=email,
        client_user_ids=found.client_user_ids,
        custom_identifiers=found.custom_identifiers,
    )


def queue_message(
    session: Session,
    clock: Clock,
    company_id: int,
    user_id: int,
    message_type: str,
    to: str,
    *,
    language: str,
    subscription_type: str | None = None,
) -> Message:
    """Render `message_type` (the company's template, else the default) in `language`, store it
    and enqueue its sending in the caller's transaction."""
    language = templates.language_or_default(language)
    company = session.get(Company, company_id)
    if company is None:
        raise ValueError(f"no company {company_id}")
    template = _template(session, company_id, message_type, language)
    values = {
        "company": company.name,
        "purpose": templates.purpose(language, subscription_type),
        "contact": company.contact_email,
    }
    message = Message(
        company_id=company_id,
        user_id=user_id,
        direction=OUTBOUND,
        channel=template.channel,
        type=message_type,
        subscription_type=subscription_type,
        language=language,
        address=to,
        subject=templates.render(template.subject, values) if template.subject else None,
        body=templates.render(template.body, values),
        status=QUEUED,
        attempts=0,
        created_at=clock.now(),
    )
    session.add(message)
    session.flush()
    enqueue(session, clock, SEND_JOB, {"message_id": message.id}, company_id=company_id)
    return message


def _template(
    session: Session, company_id: int, message_type: str, language: str
) -> templates.Template:
    default = templates.DEFAULTS[message_type][language]
    own = repository.template(session, company_id, message_type, language)
    if own is None:
        return default
    return templates.Template(default.channel, own.body, own.subject)


def record_inbound(
    session: Session, clock: Clock, company_id: int, user_id: int, phone: str, text: str
) -> Message:
    """A text the subscriber sent (simulated: there is no carrier)."""
    message = Message(
        company_id=company_id,
        user_id=user_id,
        direction=INBOUND,
        channel=TEXT,
        type=templates.INBOUND,
        language=templates.DEFAULT_LANGUAGE,
        address=phone,
        body=text,
        status=RECEIVED,
        attempts=0,
        created_at=clock.now(),
        sent_at=clock.now(),
    )
    session.add(message)
    session.flush()
    return message


def send(
    session: Session,
    clock: Clock,
    company_id: int,
    message_id: int,
    transports: Transports,
    policy: SendPolicy,
) -> None:
    """Hand one queued message to its transport (the `messaging.send` job)."""
    message = repository.message_for_update(session, company_id, message_id)
    if message is None or message.status != QUEUED:
        return  # deleted with its user, or already handled by an earlier run
    company = session.get(Company, company_id)
    transport = transports.for_channel(message.channel)
    message.attempts += 1
    message.transport = transport.name
    outgoing = Outgoing(
        public_id=ids.MESSAGE.encode(message.id),
        channel=message.channel,
        type=message.type,
        to=message.address,
        body=message.body,
        subject=message.subject,
        sender_name=company.name if company else "heedful",
    )
    try:
        transport.send(outgoing)
    except TransportError as exc:
        message.last_error = str(exc)[:2000]
        if isinstance(exc, UnsendableMessage) or message.attempts >= policy.max_attempts:
            message.status = FAILED
        else:
            enqueue(
                session,
                clock,
                SEND_JOB,
                {"message_id": message.id},
                company_id=company_id,
                delay=policy.delay(message.attempts),
            )
        return
    message.status = SENT
    message.sent_at = clock.now()
    message.last_error = None
    if message.channel == TEXT:
        parts = {"message": {"id": outgoing.public_id, "type": message.type, "text": message.body}}
        emit(
            session,
            clock,
            company_id,
            SMS_SENT,
            subscriber_of(session, company_id, message.user_id, message.address),
            parts,
            occurred_at=message.sent_at,
        )


def send_failed(session: Session, company_id: int, message_id: int, job_error: str) -> None:
    """Every attempt of the send job failed with an error no transport reported as one (so
    none was recorded on the message), and the job is dead-lettered: the message is `failed`
    with the job's error, not `queued` for ever."""
    message = repository.message_for_update(session, company_id, message_id)
    if message is None or message.status != QUEUED:
        return
    message.status = FAILED
    message.last_error = job_error[:2000]


# --- operator views and settings ------------------------------------------------------------


def message_view(message: Message) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": ids.MESSAGE.encode(message.id),
        "companyId": ids.COMPANY.encode(message.company_id),
        "userId": message.user_id,
        "direction": message.direction,
        "channel": message.channel,
        "type": message.type,
        "language": message.language,
        ("from" if message.direction == INBOUND else "to"): message.address,
        "text": message.body,
        "status": message.status,
        "attempts": message.attempts,
        "createdAt": message.created_at.isoformat(),
        "sentAt": message.sent_at.isoformat() if message.sent_at else None,
    }
    if message.subscription_type:
        view["subscriptionType"] = message.subscription_type
    if message.channel == EMAIL:
        view["subject"] = message.subject
    if message.transport:
        view["transport"] = message.transport
    if message.last_error:
        view["lastError"] = message.last_error
    return view


def list_messages(
    session: Session,
    *,
    phone: str | None = None,
    email: str | None = None,
    company_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Messages to or from `phone`/`email` (already normalised), newest first."""
    addresses = [value for value in (phone, email) if value]
    found = repository.messages(session, company_id=company_id, addresses=addresses, limit=limit)
    return [message_view(message) for message in found]


def set_template(
    session: Session,
    clock: Clock,
    company_id: int,
    message_type: str,
    language: str,
    body: str,
    subject: str | None = None,
) -> MessageTemplate:
    """The company's own wording for one message type and language (replacing any earlier)."""
    checked = templates.check(message_type, language, body, subject)
    own = repository.template(session, company_id, message_type, language)
    if own is None:
        own = MessageTemplate(company_id=company_id, type=message_type, language=language)
        session.add(own)
    own.body = checked.body
    own.subject = checked.subject
    own.updated_at = clock.now()
    session.flush()
    return own


def templates_of(session: Session, company_id: int) -> Sequence[MessageTemplate]:
    return repository.templates_of(session, company_id)
