"""Identifier values: validation and normalisation (phones to E.164, emails lowercased).

Pure functions, no database: the HTTP handlers call them before anything is queued, so every
400 names the field it is about.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import phonenumbers
from msgspec import UnsetType

from heedful.core import nul
from heedful.errors import InvalidRequest
from heedful.identity.schemas import EventUser, IdentifyRequestDto

PHONE = "phone"
EMAIL = "email"
SHOPIFY_ID = "shopifyId"
KLAVIYO_ID = "klaviyoId"
CLIENT_USER_ID = "clientUserId"
CUSTOM = "custom"
KINDS = (PHONE, EMAIL, SHOPIFY_ID, KLAVIYO_ID, CLIENT_USER_ID, CUSTOM)

# The vendor's limit for identifier values (Identity API); applied wherever identifiers arrive.
MAX_IDENTIFIER_LENGTH = 100
MAX_EMAIL_LENGTH = 320
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


class Identifier(NamedTuple):
    """One identifier: `kind` is one of KINDS; `name` is set only for custom identifiers.

    A named tuple (hashable, ordered by kind, value, name): every event builds one or two,
    and a frozen dataclass cost several times as much to build and hash."""

    kind: str
    value: str
    name: str = ""

    def describe(self) -> str:
        return f"{self.name}={self.value}" if self.kind == CUSTOM else f"{self.kind}={self.value}"


def phone(value: str, field: str) -> Identifier:
    """An E.164 phone (`+` and country code, digits only) that `phonenumbers` finds possible."""
    normalised, problem = _normalise_phone(value)
    if normalised is None:
        raise InvalidRequest(f"`{field}` {problem}")
    return Identifier(PHONE, normalised)


@functools.lru_cache(maxsize=65_536)
def _normalise_phone(value: str) -> tuple[str | None, str]:
    """(E.164 form, "") or (None, what is wrong). Cached: parsing costs more than the rest of
    an event's validation, and traffic names the same people again and again."""
    if not _E164.fullmatch(value):
        return None, "must be a phone number in E.164 format, like +13115552368"
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        return None, f"is not a phone number: {exc}"
    if not phonenumbers.is_possible_number(parsed):
        return None, "is not a possible phone number for its country code"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), ""


def email(value: str, field: str, max_length: int = MAX_EMAIL_LENGTH) -> Identifier:
    """An email address, lowercased: emails are compared case-insensitively."""
    if len(value) > max_length:
        raise InvalidRequest(f"`{field}` must be at most {max_length} characters")
    nul.refuse(value, field)
    if not _EMAIL.fullmatch(value):
        raise InvalidRequest(f"`{field}` is not a valid email address")
    lowered = value.lower()
    # Lowercasing can lengthen a string ("İ" becomes two characters); the stored form must
    # still fit the column.
    if len(lowered) > MAX_EMAIL_LENGTH:
        raise InvalidRequest(
            f"`{field}` must be at most {MAX_EMAIL_LENGTH} characters once lowercased"
        )
    return Identifier(EMAIL, lowered)


def plain(kind: str, value: str, field: str) -> Identifier:
    _check_text(value, field)
    return Identifier(kind, value)


def custom(name: str | UnsetType, value: str | UnsetType, field: str) -> Identifier:
    if isinstance(name, UnsetType):
        raise InvalidRequest(f"`{field}.name` is required")
    if isinstance(value, UnsetType):
        raise InvalidRequest(f"`{field}.value` is required")
    _check_text(name, f"{field}.name")
    _check_text(value, f"{field}.value")
    return Identifier(CUSTOM, value, name)


def _check_text(value: str, field: str) -> None:
    if not value.strip():
        raise InvalidRequest(f"`{field}` must not be empty")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidRequest(f"`{field}` must be at most {MAX_IDENTIFIER_LENGTH} characters")
    nul.refuse(value, field)


def from_event_user(user: EventUser, field: str = "user") -> tuple[Identifier, ...]:
    """The identifiers of an `EventUser`: phone or email is required (Spec A)."""
    if isinstance(user.phone, UnsetType) and isinstance(user.email, UnsetType):
        if isinstance(user.externalIdentifiers, UnsetType):
            raise InvalidRequest(f"`{field}` must name at least one identifier")
        raise InvalidRequest(f"`{field}.phone` or `{field}.email` is required")
    given_phone = user.phone if isinstance(user.phone, str) else None
    given_email = user.email if isinstance(user.email, str) else None
    external = user.externalIdentifiers
    if isinstance(external, UnsetType):
        return _phone_and_email(given_phone, given_email, field)
    found = list(_phone_and_email(given_phone, given_email, field))
    where = f"{field}.externalIdentifiers"
    if isinstance(external.clientUserId, str):
        found.append(plain(CLIENT_USER_ID, external.clientUserId, f"{where}.clientUserId"))
    for index, item in enumerate(external.customIdentifiers or []):
        found.append(custom(item.name, item.value, f"{where}.customIdentifiers[{index}]"))
    return _unique(found)


@functools.lru_cache(maxsize=65_536)
def _phone_and_email(
    given_phone: str | None, given_email: str | None, field: str
) -> tuple[Identifier, ...]:
    """Cached, as phone parsing is: traffic names the same people again and again. (A
    refused value raises, and exceptions are not cached.)"""
    found: list[Identifier] = []
    if given_phone is not None:
        found.append(phone(given_phone, f"{field}.phone"))
    if given_email is not None:
        found.append(email(given_email, f"{field}.email"))
    return _unique(found)


def from_identify(body: IdentifyRequestDto) -> tuple[Identifier, ...]:
    """The identifiers of an Identity API call, by the vendor's rules."""
    found: list[Identifier] = []
    if isinstance(body.phone, str):
        found.append(phone(body.phone, "phone"))
    if isinstance(body.email, str):
        found.append(email(body.email, "email", MAX_IDENTIFIER_LENGTH))
    if isinstance(body.shopifyId, str):
        found.append(plain(SHOPIFY_ID, body.shopifyId, "shopifyId"))
    if isinstance(body.klaviyoId, str):
        found.append(plain(KLAVIYO_ID, body.klaviyoId, "klaviyoId"))
    if isinstance(body.clientUserId, str):
        found.append(plain(CLIENT_USER_ID, body.clientUserId, "clientUserId"))
    for index, item in enumerate(body.customIdentifiers or []):
        found.append(custom(item.name, item.value, f"customIdentifiers[{index}]"))
    found = list(_unique(found))
    if not found:
        raise InvalidRequest(
            "The request must name at least one identifier: phone, email, shopifyId, klaviyoId, "
            "clientUserId or customIdentifiers"
        )
    if len(found) == 1 and found[0].kind in (CLIENT_USER_ID, CUSTOM):
        field = "clientUserId" if found[0].kind == CLIENT_USER_ID else "customIdentifiers"
        raise InvalidRequest(
            f"`{field}` must be accompanied by at least one other identifier (phone, email, "
            "shopifyId, klaviyoId, clientUserId or another custom identifier)"
        )
    return tuple(found)


def _unique(found: list[Identifier]) -> tuple[Identifier, ...]:
    return tuple(dict.fromkeys(found))
