"""Subscription use cases: sign-up sources, subscribe, eligibility, unsubscribe, inbound keywords.

A subscription is one (user, type, channel). Its `status` is `pending` (a TEXT opt-in through a
double-opt-in source, waiting for the "Reply Y"), `subscribed` (eligible) or `unsubscribed`.
Every change, and every repeated attempt, writes a consent record (what, through what, when,
from which sign-up source). Texts and emails go through the messaging outbox; webhook events are
emitted in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from msgspec import UnsetType
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from heedful.core.clock import Clock
from heedful.core.ids import IdKind
from heedful.errors import Conflict, InvalidRequest, NotFound
from heedful.identity import identifiers as ident
from heedful.identity import repository as identity_repository
from heedful.identity import service as identity
from heedful.identity.identifiers import Identifier
from heedful.messaging import service as messaging
from heedful.messaging import templates
from heedful.storage.models import SignUpSource
from heedful.storage.models.subscriptions import Subscription
from heedful.subscriptions import repository
from heedful.subscriptions.schemas import (
    AddSubscriptionResponseDto,
    AddSubscriptionsRequestDto,
    AddSubscriptionsResponseDto,
    EligibilityDto,
    GetSubscriptionsResponseDto,
    NewExternalIdentifierDto,
    SubscriptionDto,
    SubscriptionEligibilityDto,
    UnsubscribeSubscriptionResponseDto,
    UnsubscribeSubscriptionsRequestDto,
    UnsubscribeSubscriptionsResponseDto,
    UserDto1,
)
from heedful.webhooks.payloads import (
    EMAIL_SUBSCRIBED,
    EMAIL_UNSUBSCRIBED,
    SMS_SUBSCRIBED,
    SMS_UNSUBSCRIBED,
)
from heedful.webhooks.service import emit

# Sign-up source ids in the vendor's style: base64("30:SignUpSource12").
SIGNUP_SOURCE = IdKind("30", "SignUpSource")

TEXT, EMAIL = templates.TEXT, templates.EMAIL
PENDING, SUBSCRIBED, UNSUBSCRIBED = "pending", "subscribed", "unsubscribed"
DOUBLE, SINGLE = "double", "single"
SUBSCRIPTION_TYPES = ("MARKETING", "TRANSACTIONAL")
OPT_IN_MODES = (DOUBLE, SINGLE)
VIA_API, VIA_KEYWORD = "api", "sms_keyword"

# Consent record actions.
OPT_IN_REQUESTED = "opt_in_requested"  # double opt-in: "Reply Y" sent
OPTED_IN = "opted_in"  # single opt-in (or email): subscribed at once
CONFIRMED = "confirmed"  # the "Y" reply
SUBSCRIBE_ATTEMPT = "subscribe_attempt"  # subscribe while already subscribed or pending
UNSUBSCRIBED_ACTION = "unsubscribed"
UNSUBSCRIBE_ATTEMPT = "unsubscribe_attempt"  # unsubscribe while already unsubscribed
RESUBSCRIBED = "resubscribed"  # START / UNSTOP

NEWLY_CREATED, PREVIOUSLY_CREATED = "NEWLY_CREATED", "PREVIOUSLY_CREATED"
NEWLY_UNSUBSCRIBED, PREVIOUSLY_UNSUBSCRIBED = "NEWLY_UNSUBSCRIBED", "PREVIOUSLY_UNSUBSCRIBED"

CONFIRM_KEYWORDS = frozenset({"Y", "YES"})
STOP_KEYWORDS = frozenset({"STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET", "ARRÊT"})
HELP_KEYWORDS = frozenset({"HELP", "AIDE"})
START_KEYWORDS = frozenset({"START", "UNSTOP"})

_LOCALE = re.compile(r"[a-z]{2}-[A-Z]{2}")
MAX_SOURCE_NAME = 256
CREATE_ATTEMPTS = 3


# --- sign-up sources --------------------------------------------------------------------------


def create_signup_source(
    session: Session,
    clock: Clock,
    company_id: int,
    name: str,
    subscription_type: str,
    opt_in_mode: str = DOUBLE,
    locale: str = templates.EN_US,
) -> SignUpSource:
    if not name.strip() or len(name) > MAX_SOURCE_NAME:
        raise InvalidRequest(f"`name` must be 1 to {MAX_SOURCE_NAME} characters")
    if subscription_type not in SUBSCRIPTION_TYPES:
        raise InvalidRequest(f"`type` must be one of {', '.join(SUBSCRIPTION_TYPES)}")
    if opt_in_mode not in OPT_IN_MODES:
        raise InvalidRequest(f"`opt-in` must be one of {', '.join(OPT_IN_MODES)}")
    if not _LOCALE.fullmatch(locale):
        raise InvalidRequest("`locale` must look like en-US (language-COUNTRY)")
    source = SignUpSource(
        company_id=company_id,
        name=name,
        subscription_type=subscription_type,
        source_type="API",
        opt_in_mode=opt_in_mode,
        locale=locale,
        created_at=clock.now(),
    )
    session.add(source)
    session.flush()
    return source


def list_signup_sources(session: Session, company_id: int | None) -> Sequence[SignUpSource]:
    return repository.signup_sources(session, company_id)


def signup_source_view(source: SignUpSource) -> dict[str, Any]:
    return {
        "id": SIGNUP_SOURCE.encode(source.id),
        "companyId": source.company_id,
        "name": source.name,
        "subscriptionType": source.subscription_type,
        "sourceType": source.source_type,
        "optIn": source.opt_in_mode,
        "locale": source.locale,
        "createdAt": source.created_at.isoformat(),
    }


def _signup_source(
    session: Session, company_id: int, body: AddSubscriptionsRequestDto
) -> SignUpSource:
    if isinstance(body.signUpSourceId, str):
        number = SIGNUP_SOURCE.decode(body.signUpSourceId)
        source = None if number is None else repository.signup_source(session, company_id, number)
        if source is None:
            raise InvalidRequest(
                f"`signUpSourceId` {body.signUpSourceId!r} is not a sign-up source of this company"
            )
        return source
    # Spec B: without an id, the API source matching locale + subscription type, if exactly one.
    if isinstance(body.locale, UnsetType) or isinstance(body.subscriptionType, UnsetType):
        raise InvalidRequest(
            "`signUpSourceId` is required (or both `locale` and `subscriptionType`)"
        )
    locale = f"{body.locale.language}-{body.locale.country}"
    found = repository.api_sources_matching(session, company_id, locale, body.subscriptionType)
    if len(found) != 1:
        how = "no" if not found else f"{len(found)}"
        raise InvalidRequest(
            f"`locale` {locale!r} with `subscriptionType` {body.subscriptionType!r} matches "
            f"{how} API sign-up sources; exactly one must match (or pass `signUpSourceId`)"
        )
    return found[0]


# --- subscribe ----------------------------------------------------------------------------------


def _user(user: UserDto1) -> tuple[Identifier | None, Identifier | None]:
    phone = ident.phone(user.phone, "user.phone") if isinstance(user.phone, str) else None
    email = ident.email(user.email, "user.email") if isinstance(user.email, str) else None
    if phone is None and email is None:
        raise InvalidRequest("`user.phone` or `user.email` is required")
    return phone, email


def _external(external: NewExternalIdentifierDto | UnsetType) -> list[Identifier]:
    if isinstance(external, UnsetType):
        return []
    where = "externalIdentifiers"
    found: list[Identifier] = []
    for kind, value in (
        (ident.CLIENT_USER_ID, external.clientUserId),
        (ident.SHOPIFY_ID, external.shopifyId),
        (ident.KLAVIYO_ID, external.klaviyoId),
    ):
        if isinstance(value, str):
            found.append(ident.plain(kind, value, f"{where}.{kind}"))
    for index, item in enumerate(external.customIdentifiers or []):
        found.append(ident.custom(item.name, item.value, f"{where}.customIdentifiers[{index}]"))
    return found


def subscribe(
    session: Session, clock: Clock, company_id: int, body: AddSubscriptionsRequestDto
) -> AddSubscriptionsResponseDto:
    """`POST /subscriptions`: one subscription per channel the identifiers name."""
    phone, email = _user(body.user)
    external = _external(body.externalIdentifiers)
    source = _signup_source(session, company_id, body)
    single = source.opt_in_mode == SINGLE or body.singleOptIn is True
    given = [item for item in (phone, email) if item is not None]
    user_id = _locked_user(session, clock, company_id, [*given, *external])
    responses = []
    for channel, identifier in ((TEXT, phone), (EMAIL, email)):
        if identifier is None:
            continue
        status = _subscribe_channel(
            session, clock, company_id, user_id, source, channel, identifier.value, single
        )
        responses.append(
            AddSubscriptionResponseDto(
                SubscriptionDto(type=source.subscription_type, channel=channel),  # type: ignore[arg-type]
                status,  # type: ignore[arg-type]
            )
        )
    return AddSubscriptionsResponseDto(
        user=body.user,
        subscriptionResponses=responses,
        externalIdentifiers=body.externalIdentifiers,
    )


def _locked_user(
    session: Session, clock: Clock, company_id: int, identifiers: list[Identifier]
) -> int:
    """The user the identifiers name, row-locked until the transaction ends. On PostgreSQL a
    concurrent erasure or merge may delete the user just resolved; the new subscription then
    broke its foreign key (a 500). Once the lock is ours the user is either still there or
    gone for good, and resolving again finds the survivor (or makes a new user)."""
    for _attempt in range(CREATE_ATTEMPTS):
        user_id = identity.resolve(session, clock, company_id, identifiers).user_id
        identity_repository.lock_users(session, company_id, [user_id])
        if identity_repository.user_exists(session, company_id, user_id):
            return user_id
    raise Conflict("The subscriber changed concurrently; try again")


def _subscribe_channel(
    session: Session,
    clock: Clock,
    company_id: int,
    user_id: int,
    source: SignUpSource,
    channel: str,
    address: str,
    single: bool,
) -> str:
    now = clock.now()
    sub, created = _get_or_create(session, clock, company_id, user_id, source, channel)
    if not created and sub.status in (PENDING, SUBSCRIBED):
        return _repeat_subscribe(session, clock, sub, source, address)
    # New, or opted out before: opt in (again) through this source.
    language = templates.language_or_default(source.locale)
    sub.signup_source_id = source.id
    sub.language = language
    sub.updated_at = now
    sub.unsubscribed_at = None
    if channel == TEXT and not single:
        sub.status = PENDING
        sub.confirmed_at = None
        repository.add_consent(
            session, sub, OPT_IN_REQUESTED, VIA_API, now, signup_source_id=source.id
        )
        _send(session, clock, sub, templates.OPT_IN_CONFIRMATION, address)
        return NEWLY_CREATED
    sub.status = SUBSCRIBED
    sub.confirmed_at = now
    repository.add_consent(session, sub, OPTED_IN, VIA_API, now, signup_source_id=source.id)
    _send(
        session,
        clock,
        sub,
        templates.WELCOME if channel == TEXT else templates.WELCOME_EMAIL,
        address,
    )
    _emit_subscribed(session, clock, sub, source, address)
    return NEWLY_CREATED


def _repeat_subscribe(
    session: Session, clock: Clock, sub: Subscription, source: SignUpSource, address: str
) -> str:
    """Already subscribed (or waiting for the "Y"): the attempt is recorded; a text says so
    (or repeats the "Reply Y" request)."""
    repository.add_consent(
        session, sub, SUBSCRIBE_ATTEMPT, VIA_API, clock.now(), signup_source_id=source.id
    )
    if sub.channel == TEXT:
        kind = (
            templates.ALREADY_SUBSCRIBED
            if sub.status == SUBSCRIBED
            else (templates.OPT_IN_CONFIRMATION)
        )
        _send(session, clock, sub, kind, address)
    return PREVIOUSLY_CREATED


def _get_or_create(
    session: Session,
    clock: Clock,
    company_id: int,
    user_id: int,
    source: SignUpSource,
    channel: str,
) -> tuple[Subscription, bool]:
    type_ = source.subscription_type
    for attempt in range(CREATE_ATTEMPTS):
        existing = repository.subscription(session, company_id, user_id, type_, channel)
        if existing is not None:
            return existing, False
        now = clock.now()
        sub = Subscription(
            company_id=company_id,
            user_id=user_id,
            type=type_,
            channel=channel,
            status=PENDING,
            signup_source_id=source.id,
            language=templates.language_or_default(source.locale),
            created_at=now,
            updated_at=now,
        )
        try:
            # A concurrent request may create the same subscription first; then the unique
            # constraint fires and the next attempt finds its row.
            with session.begin_nested():
                session.add(sub)
                session.flush()
            return sub, True
        except IntegrityError:
            if attempt == CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _send(
    session: Session, clock: Clock, sub: Subscription, message_type: str, address: str
) -> None:
    messaging.queue_message(
        session,
        clock,
        sub.company_id,
        sub.user_id,
        message_type,
        address,
        language=sub.language,
        subscription_type=sub.type,
    )


def _emit_subscribed(
    session: Session, clock: Clock, sub: Subscription, source: SignUpSource | None, address: str
) -> None:
    parts: dict[str, Any] = {"subscription": {"type": sub.type}}
    if source is not None:
        parts["creative"] = {"name": source.name, "type": source.source_type}
    event = SMS_SUBSCRIBED if sub.channel == TEXT else EMAIL_SUBSCRIBED
    subscriber = messaging.subscriber_of(session, sub.company_id, sub.user_id, address)
    emit(session, clock, sub.company_id, event, subscriber, parts)


def _signup_source_of(session: Session, sub: Subscription) -> SignUpSource | None:
    if sub.signup_source_id is None:
        return None
    return repository.signup_source(session, sub.company_id, sub.signup_source_id)


def _emit_unsubscribed(session: Session, clock: Clock, sub: Subscription, address: str) -> None:
    event = SMS_UNSUBSCRIBED if sub.channel == TEXT else EMAIL_UNSUBSCRIBED
    subscriber = messaging.subscriber_of(session, sub.company_id, sub.user_id, address)
    emit(session, clock, sub.company_id, event, subscriber, {"subscription": {"type": sub.type}})


def _dto(sub: Subscription) -> SubscriptionDto:
    return SubscriptionDto(type=sub.type, channel=sub.channel)  # type: ignore[arg-type]


# --- eligibility ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    user_id: int
    channel: str
    address: str


def _located(
    session: Session, company_id: int, phone: Identifier | None, email: Identifier | None
) -> list[Located]:
    """The users the identifiers name, each with the one channel its identifier locates."""
    given = [identifier for identifier in (phone, email) if identifier is not None]
    return _each_channel(identity.find_users(session, company_id, given), phone, email)


def _each_channel(
    owners: dict[Identifier, int], phone: Identifier | None, email: Identifier | None
) -> list[Located]:
    return [
        Located(owners[identifier], channel, identifier.value)
        for channel, identifier in ((TEXT, phone), (EMAIL, email))
        if identifier is not None and identifier in owners
    ]


def _locate(
    session: Session,
    company_id: int,
    phone: Identifier | None,
    email: Identifier | None,
    *,
    lock: bool = False,
) -> list[Located]:
    """`_located` (`_locate_locked` if `lock`); at least one user, else a 404."""
    found = (_locate_locked if lock else _located)(session, company_id, phone, email)
    if not found:
        raise NotFound("No subscriber with that `phone` or `email`")
    return found


def _locate_locked(
    session: Session, company_id: int, phone: Identifier | None, email: Identifier | None
) -> list[Located]:
    """`_located`, with the users row-locked (in id order) until the transaction ends. An
    erasure locks the user, then deletes its subscriptions: a change that locked those
    subscriptions first and then wrote a row referencing the user (taking its key lock)
    deadlocked with it on PostgreSQL, or broke a foreign key once the erasure committed.
    Looked up again under the lock: an erased user is gone (nothing found), a merged one
    leads to its survivor (locked in turn)."""
    given = [identifier for identifier in (phone, email) if identifier is not None]
    owners = identity.lock_owners(session, company_id, given, CREATE_ATTEMPTS)
    if owners is None:
        raise Conflict("The subscriber changed concurrently; try again")
    return _each_channel(owners, phone, email)


def eligibility(
    session: Session, company_id: int, phone: str | None, email: str | None
) -> GetSubscriptionsResponseDto:
    """`GET /subscriptions`: every subscription of the channels the identifiers locate."""
    if phone is None and email is None:
        raise InvalidRequest("The `phone` or `email` query parameter is required")
    phone_id = ident.phone(phone, "phone") if phone is not None else None
    email_id = ident.email(email, "email") if email is not None else None
    items = []
    for where in _locate(session, company_id, phone_id, email_id):
        for sub in repository.subscriptions_of(
            session, company_id, [where.user_id], [where.channel], lock=False
        ):
            items.append(
                SubscriptionEligibilityDto(_dto(sub), EligibilityDto(sub.status == SUBSCRIBED))
            )
    return GetSubscriptionsResponseDto(items)


# --- unsubscribe ----------------------------------------------------------------------------------


def _wanted(sub: Subscription, wanted: Sequence[SubscriptionDto] | None) -> bool:
    if wanted is None:
        return True
    return any(
        (isinstance(item.type, UnsetType) or item.type == sub.type)
        and (isinstance(item.channel, UnsetType) or item.channel == sub.channel)
        for item in wanted
    )


def unsubscribe(
    session: Session, clock: Clock, company_id: int, body: UnsubscribeSubscriptionsRequestDto
) -> UnsubscribeSubscriptionsResponseDto:
    """`POST /subscriptions/unsubscribe`: phone reaches TEXT subscriptions, email EMAIL ones."""
    phone, email = _user(body.user)
    notification = body.notification
    language: str | None = None  # None: each subscriber's own (their subscription's)
    disabled = False
    if not isinstance(notification, UnsetType):
        if isinstance(notification.language, str):
            if notification.language not in templates.LANGUAGES:
                raise InvalidRequest(
                    "`notification.language` must be exactly one of "
                    + ", ".join(templates.LANGUAGES)
                )
            language = notification.language
        disabled = notification.disabled is True
    wanted = None if isinstance(body.subscriptions, UnsetType) else body.subscriptions
    now = clock.now()
    responses = []
    texted: list[tuple[Located, str]] = []
    for where in _locate(session, company_id, phone, email, lock=True):
        touched: Subscription | None = None
        for sub in repository.subscriptions_of(
            session, company_id, [where.user_id], [where.channel]
        ):
            if not _wanted(sub, wanted):
                continue
            touched = touched or sub
            if sub.status == UNSUBSCRIBED:
                repository.add_consent(session, sub, UNSUBSCRIBE_ATTEMPT, VIA_API, now)
                status = PREVIOUSLY_UNSUBSCRIBED
            else:
                _opt_out(session, clock, sub, VIA_API, where.address)
                status = NEWLY_UNSUBSCRIBED
            responses.append(UnsubscribeSubscriptionResponseDto(_dto(sub), status))  # type: ignore[arg-type]
        if touched is not None and where.channel == TEXT:
            # `notification.language` overrides; without it the text is in the language the
            # subscriber opted in with, as the reply to a STOP is.
            texted.append((where, language or touched.language))
    if not disabled:
        for where, text_language in texted:
            messaging.queue_message(
                session,
                clock,
                company_id,
                where.user_id,
                templates.UNSUBSCRIBE_CONFIRMATION,
                where.address,
                language=text_language,
            )
    return UnsubscribeSubscriptionsResponseDto(user=body.user, subscriptionResponses=responses)


def _opt_out(
    session: Session,
    clock: Clock,
    sub: Subscription,
    via: str,
    address: str,
    keyword: str | None = None,
) -> None:
    """`address`: the phone or email the opt-out came through (the webhook names it)."""
    now = clock.now()
    sub.status = UNSUBSCRIBED
    sub.unsubscribed_at = now
    sub.updated_at = now
    repository.add_consent(session, sub, UNSUBSCRIBED_ACTION, via, now, keyword=keyword)
    _emit_unsubscribed(session, clock, sub, address)


# --- inbound texts (simulated replies) ----------------------------------------------------------


@dataclass(frozen=True)
class InboundOutcome:
    company_id: int
    user_id: int
    keyword: str | None
    action: str  # confirmed | unsubscribed | help | resubscribed | none
    subscriptions: list[dict[str, str]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "companyId": self.company_id,
            "userId": self.user_id,
            "keyword": self.keyword,
            "action": self.action,
            "subscriptions": self.subscriptions,
        }


def inbound_companies(session: Session, phone: Identifier, company_id: int | None) -> list[int]:
    """The companies where `phone` belongs to a user. Unscoped when `company_id` is None: only
    the operator's simulated carrier (admin API, CLI) looks across companies."""
    owners = identity_repository.owners_in_any_company(session, phone, company_id)
    return sorted({company for company, _user in owners})


def inbound_text(
    session: Session, clock: Clock, company_id: int, phone: Identifier, text: str
) -> InboundOutcome | None:
    """A text from `phone` to the company (there is no carrier: the admin API and CLI simulate
    it). Keywords, case-insensitive: Y/YES confirm a pending opt-in; STOP, UNSUBSCRIBE, CANCEL,
    END, QUIT (and ARRET) opt out of every text subscription; HELP (AIDE) answers a help text;
    START/UNSTOP subscribe again. Anything else is only recorded. None: phone unknown here."""
    located = _locate_locked(session, company_id, phone, None)
    if not located:
        return None
    user_id = located[0].user_id
    messaging.record_inbound(session, clock, company_id, user_id, phone.value, text)
    word = text.strip().upper()
    subs = list(repository.subscriptions_of(session, company_id, [user_id], [TEXT]))
    language = subs[0].language if subs else templates.DEFAULT_LANGUAGE
    now = clock.now()
    changed: list[Subscription] = []
    if word in CONFIRM_KEYWORDS:
        action = "confirmed"
        for sub in subs:
            if sub.status != PENDING:
                continue
            sub.status = SUBSCRIBED
            sub.confirmed_at = now
            sub.updated_at = now
            repository.add_consent(
                session,
                sub,
                CONFIRMED,
                VIA_KEYWORD,
                now,
                signup_source_id=sub.signup_source_id,
                keyword=word,
            )
            _send(session, clock, sub, templates.WELCOME, phone.value)
            _emit_subscribed(session, clock, sub, _signup_source_of(session, sub), phone.value)
            changed.append(sub)
    elif word in STOP_KEYWORDS:
        action = "unsubscribed"
        for sub in subs:
            if sub.status != UNSUBSCRIBED:
                _opt_out(session, clock, sub, VIA_KEYWORD, phone.value, word)
                changed.append(sub)
        if subs:
            messaging.queue_message(
                session,
                clock,
                company_id,
                user_id,
                templates.UNSUBSCRIBE_CONFIRMATION,
                phone.value,
                language=language,
            )
    elif word in HELP_KEYWORDS:
        action = "help"
        messaging.queue_message(
            session, clock, company_id, user_id, templates.HELP, phone.value, language=language
        )
    elif word in START_KEYWORDS:
        action = "resubscribed"
        for sub in subs:
            if sub.status != UNSUBSCRIBED:
                continue
            sub.status = SUBSCRIBED
            sub.confirmed_at = now
            sub.unsubscribed_at = None
            sub.updated_at = now
            repository.add_consent(session, sub, RESUBSCRIBED, VIA_KEYWORD, now, keyword=word)
            _emit_subscribed(session, clock, sub, _signup_source_of(session, sub), phone.value)
            changed.append(sub)
        if changed:
            _send(session, clock, changed[0], templates.RESUBSCRIBED, phone.value)
    else:
        action = "none"
    return InboundOutcome(
        company_id,
        user_id,
        word if action != "none" else None,
        action,
        [{"type": s.type, "channel": s.channel, "status": s.status} for s in changed],
    )


def consent_history(session: Session, company_id: int, user_id: int) -> list[dict[str, Any]]:
    return [
        {
            "subscriptionId": record.subscription_id,
            "action": record.action,
            "via": record.channel_source,
            "signUpSourceId": (
                SIGNUP_SOURCE.encode(record.signup_source_id) if record.signup_source_id else None
            ),
            "keyword": record.keyword,
            "occurredAt": record.occurred_at.isoformat(),
        }
        for record in repository.consent_records(session, company_id, user_id)
    ]
