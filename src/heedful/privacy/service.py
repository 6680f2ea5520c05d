"""Privacy use cases: accept a delete request, show it, process it, list requests.

A request is stored with what `GET` shows (masked identifiers), a keyed hash of each identifier
for audit, and the normalised identifiers themselves in `pending_*` columns, because the job
that runs later needs them. Processing (a job, `HEEDFUL_PRIVACY_DELETE_DELAY` after the request)
erases the subject (`heedful.privacy.erasure`), clears `pending_*`, replaces any identifier in
`requestMsg` by its mask, and records what was deleted. Identifiers are never logged.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from msgspec import UNSET, UnsetType
from sqlalchemy.orm import Session

from heedful.config import Settings
from heedful.core import ids
from heedful.core.clock import Clock
from heedful.errors import InvalidRequest, NotFound, quoted
from heedful.identity.identifiers import CLIENT_USER_ID, EMAIL, PHONE, Identifier
from heedful.jobs import inspection as job_inspection
from heedful.jobs.queue import enqueue
from heedful.privacy import erasure, repository, subject
from heedful.privacy.schemas import PrivacyRequestAddDeleteEventDto, PrivacyRequestDto
from heedful.privacy.subject import Subject
from heedful.storage.models import Job
from heedful.storage.models.privacy import PrivacyRequest

DELETE_JOB = "privacy.delete"
DELETE = "DELETE"
NEITHER_IDENTIFIER = "Must either specify subscriberPhone or subscriberEmail"
# Used when HEEDFUL_PRIVACY_HASH_KEY is unset in development (documented; set your own).
DEVELOPMENT_HASH_KEY = "heedful-development-privacy-hash-key"
PUBLIC_ID_LENGTH = 20
_ALPHABET = string.ascii_lowercase + string.digits
# The operator's states -> list_requests(processed=, failed=): `pending` and `failed` are both
# unprocessed; a failed one's delete job is dead.
LISTING_STATES: dict[str, tuple[bool, bool | None]] = {
    "pending": (False, False),
    "failed": (False, True),
    "processed": (True, None),
}


@dataclass(frozen=True)
class PrivacyPolicy:
    """The settings privacy needs: when requests run, the hash key, the default phone region."""

    delay: timedelta = timedelta(0)
    hash_key: bytes = DEVELOPMENT_HASH_KEY.encode()
    region: str = "US"

    @classmethod
    def from_settings(cls, settings: Settings) -> PrivacyPolicy:
        if settings.privacy_hash_key is not None and settings.privacy_hash_key.get_secret_value():
            key = settings.privacy_hash_key.get_secret_value()
        elif settings.env == "production":
            key = settings.secret_key.get_secret_value()
        else:
            key = DEVELOPMENT_HASH_KEY
        return cls(
            timedelta(seconds=settings.privacy_delete_delay),
            key.encode(),
            settings.privacy_phone_region,
        )


def company_region(session: Session, company_id: int, default: str) -> str:
    """The country of the company's sign-up sources' locales when they agree, else `default`."""
    countries = {
        locale.replace("_", "-").rsplit("-", 1)[-1].upper()
        for locale in repository.signup_locales(session, company_id)
        if "-" in locale or "_" in locale
    }
    if len(countries) == 1:
        (country,) = countries
        if len(country) == 2 and country.isalpha():
            return country
    return default


def subject_of(body: PrivacyRequestAddDeleteEventDto, region: str) -> Subject:
    """The request's identifiers, normalised; 400 when there is none or one is not valid."""
    phone, email, client = (
        _given(body.subjectPhone),
        _given(body.subjectEmail),
        _given(body.clientUserId),
    )
    if phone is None and email is None and client is None:
        raise InvalidRequest(NEITHER_IDENTIFIER)
    return Subject(
        subject.phone(phone, region) if phone is not None else None,
        subject.email(email) if email is not None else None,
        subject.client_user_id(client) if client is not None else None,
    )


def _given(value: str | UnsetType) -> str | None:
    """A field counts as given when it has a non-blank value."""
    return value if isinstance(value, str) and value.strip() else None


def add_delete_request(
    session: Session,
    clock: Clock,
    company_id: int,
    body: PrivacyRequestAddDeleteEventDto,
    policy: PrivacyPolicy,
) -> PrivacyRequestDto:
    """Record the request and schedule its processing; the answer echoes the identifiers."""
    who = subject_of(body, company_region(session, company_id, policy.region))
    message = body.requestMsg if isinstance(body.requestMsg, str) else None
    if message is not None and len(message) > subject.MAX_MESSAGE_LENGTH:
        raise InvalidRequest(f"requestMsg must be at most {subject.MAX_MESSAGE_LENGTH} characters")
    now = clock.now()
    record = repository.add(
        session,
        PrivacyRequest(
            company_id=company_id,
            public_id="".join(secrets.choice(_ALPHABET) for _ in range(PUBLIC_ID_LENGTH)),
            type=DELETE,
            request_msg=message,
            processed=False,
            requested_at=now,
            due_at=now + policy.delay,
            **_masked(who, policy.hash_key),
            pending_phone=who.phone.value if who.phone else None,
            pending_email=who.email.value if who.email else None,
            pending_client_user_id=who.client_user_id.value if who.client_user_id else None,
        ),
    )
    payload = {"request_id": record.id}
    enqueue(session, clock, DELETE_JOB, payload, company_id=company_id, delay=policy.delay)
    return to_dto(record, shown=who)


def _masked(who: Subject, key: bytes) -> dict[str, str | None]:
    def masked(item: Identifier | None) -> str | None:
        return subject.mask(item) if item else None

    def hashed(item: Identifier | None) -> str | None:
        return subject.keyed_hash(key, item) if item else None

    return {
        "masked_phone": masked(who.phone),
        "masked_email": masked(who.email),
        "masked_client_user_id": masked(who.client_user_id),
        "phone_hash": hashed(who.phone),
        "email_hash": hashed(who.email),
        "client_user_id_hash": hashed(who.client_user_id),
    }


def get_delete_request(session: Session, company_id: int, public_id: str) -> PrivacyRequestDto:
    if not (public_id.isascii() and public_id.isalnum() and len(public_id) <= PUBLIC_ID_LENGTH):
        raise NotFound(f"No privacy request {quoted(public_id)}")
    record = repository.by_public_id(session, company_id, public_id)
    if record is None:
        raise NotFound(f"No privacy request {quoted(public_id)}")
    return to_dto(record)


def process_request(
    session: Session, clock: Clock, company_id: int, request_id: int, job_id: int | None = None
) -> bool:
    """Erase the request's subject; False when it is unknown or was already processed."""
    record = repository.for_update(session, company_id, request_id)
    if record is None or record.processed:
        return False
    started = clock.now()
    given = [
        Identifier(kind, value)
        for kind, value in (
            (PHONE, record.pending_phone),
            (EMAIL, record.pending_email),
            (CLIENT_USER_ID, record.pending_client_user_id),
        )
        if value
    ]
    report = erasure.erase(session, started, company_id, given, keep_job_id=job_id)
    if record.request_msg:
        known = (*report.identifiers, *given)
        record.request_msg = subject.redact(record.request_msg, known)
    record.pending_phone = record.pending_email = record.pending_client_user_id = None
    record.processed = True
    record.processing_started_at = started
    record.processing_ended_at = clock.now()
    record.outcome = report.as_dict()
    session.flush()
    return True


def list_requests(
    session: Session,
    company_id: int | None,
    policy: PrivacyPolicy,
    *,
    processed: bool | None = None,
    failed: bool | None = None,
    phone: str | None = None,
    email: str | None = None,
    client_user_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The operator's view; `phone`/`email`/`client_user_id` find requests by keyed hash.
    `failed`: only requests whose delete job is dead (True), or none of those (False)."""
    wanted: list[Identifier] = []
    if phone:
        wanted.append(subject.phone(phone, policy.region, "phone"))
    if email:
        wanted.append(subject.email(email, "email"))
    if client_user_id:
        wanted.append(subject.client_user_id(client_user_id))
    hashes = [subject.keyed_hash(policy.hash_key, item) for item in wanted]
    dead = job_inspection.dead_jobs_by(session, DELETE_JOB, "request_id")
    found = repository.listing(
        session,
        company_id,
        processed=processed,
        hashes=hashes,
        among=None if failed is not True else dead.keys(),
        besides=dead.keys() if failed is False else (),
        limit=limit,
    )
    return [admin_view(record, dead.get(record.id)) for record in found]


def timestamp(moment: datetime) -> str:
    """The vendor's form: `2020-09-02T17:44:23.875+0000` (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def to_dto(record: PrivacyRequest, shown: Subject | None = None) -> PrivacyRequestDto:
    """The API's view: masked identifiers, unless `shown` (the answer to the POST) is given."""
    phone: str | None = shown.phone.value if shown and shown.phone else None
    email: str | None = shown.email.value if shown and shown.email else None
    if shown is None:
        phone, email = record.masked_phone, record.masked_email
    return PrivacyRequestDto(
        id=record.public_id,
        processed=record.processed,
        type=record.type,
        requestDateTime=timestamp(record.requested_at),
        subjectEmail=email if email is not None else UNSET,
        subjectPhone=phone if phone is not None else UNSET,
        requestMsg=record.request_msg if record.request_msg is not None else UNSET,
        processingStartDateTime=_optional_time(record.processing_started_at),
        processingEndDateTime=_optional_time(record.processing_ended_at),
    )


def _optional_time(moment: datetime | None) -> str | UnsetType:
    return UNSET if moment is None else timestamp(moment)


def admin_view(record: PrivacyRequest, dead_job: Job | None = None) -> dict[str, Any]:
    """`dead_job`: the request's delete job, if it died. Such a request stays unprocessed (the
    vendor's view says only `processed: false`); here it is `failed`, with the job's id and
    error, so the operator can fix the cause and retry the job (`heedful jobs retry`)."""
    failed = dead_job is not None and not record.processed
    return {
        "id": record.public_id,
        "companyId": ids.COMPANY.encode(record.company_id),
        "type": record.type,
        "state": "processed" if record.processed else "failed" if failed else "pending",
        "processed": record.processed,
        "subjectPhone": record.masked_phone,
        "subjectEmail": record.masked_email,
        "clientUserId": record.masked_client_user_id,
        "requestMsg": record.request_msg,
        "requestDateTime": timestamp(record.requested_at),
        "dueDateTime": timestamp(record.due_at),
        "processingStartDateTime": _none_or_time(record.processing_started_at),
        "processingEndDateTime": _none_or_time(record.processing_ended_at),
        "outcome": record.outcome,
        "failedJobId": dead_job.id if failed and dead_job else None,
        "lastError": dead_job.last_error if failed and dead_job else None,
    }


def _none_or_time(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(moment)
