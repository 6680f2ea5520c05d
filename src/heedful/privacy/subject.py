"""The subject of a request: identifiers normalised, masked and hashed. Pure functions.

- Phones become E.164. A number that starts with `+` is read as international; one without
  is read as a national number of the company's region (`US` by default, so the vendor's
  example `1111111111` is `+11111111111`). Letters, a misplaced `+` or a number that
  `phonenumbers` does not find possible for its country are refused: nothing is guessed.
- Emails are validated and lowercased (as the identity graph stores them).
- Masks show what `GET` shows: `+*****5555` (the last four digits, never more than half of
  them), `a**@website.com` (the first character of a local part of three or more characters,
  then always two stars, the domain as is).
- Hashes are HMAC-SHA256 of `kind:value` with the operator's key, so a request can later be
  matched to an identifier by someone holding both, and by nobody holding only the database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import phonenumbers

from heedful.errors import InvalidRequest
from heedful.identity import identifiers as ident
from heedful.identity.identifiers import Identifier

_PHONE_TEXT = re.compile(r"\+?[0-9(][0-9 ().\-]*")
MAX_PHONE_TEXT = 32
MAX_MESSAGE_LENGTH = 2000


def phone(raw: str, region: str, field: str = "subjectPhone") -> Identifier:
    """`raw` in E.164; national numbers (no `+`) are read in `region`."""
    text = raw.strip()
    if len(text) > MAX_PHONE_TEXT or not _PHONE_TEXT.fullmatch(text):
        raise InvalidRequest(_phone_message(field, region))
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidRequest(_phone_message(field, region)) from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidRequest(_phone_message(field, region))
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Identifier(ident.PHONE, e164)


def _phone_message(field: str, region: str) -> str:
    return (
        f"{field} must be a phone number in E.164 format (like +13115552368) or a national "
        f"number of the company's region ({region})"
    )


def email(raw: str, field: str = "subjectEmail") -> Identifier:
    try:
        return ident.email(raw.strip(), field)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message.replace("`", "")) from exc


def client_user_id(raw: str, field: str = "clientUserId") -> Identifier:
    try:
        return ident.plain(ident.CLIENT_USER_ID, raw.strip(), field)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message.replace("`", "")) from exc


def mask_phone(e164: str) -> str:
    digits = e164.lstrip("+")
    shown = min(4, len(digits) // 2)
    return "+*****" + (digits[-shown:] if shown else "")


def mask_email(address: str) -> str:
    local, _, domain = address.rpartition("@")
    shown = local[0] if len(local) >= 3 else ""
    return f"{shown}**@{domain}"


def mask_client_user_id(value: str) -> str:
    return "*****" + (value[-2:] if len(value) >= 6 else "")


def mask(item: Identifier) -> str:
    if item.kind == ident.PHONE:
        return mask_phone(item.value)
    if item.kind == ident.EMAIL:
        return mask_email(item.value)
    return mask_client_user_id(item.value)


def keyed_hash(key: bytes, item: Identifier) -> str:
    return hmac.new(key, f"{item.kind}:{item.value}".encode(), hashlib.sha256).hexdigest()


def redact(text: str, items: tuple[Identifier, ...]) -> str:
    """`text` with every identifier in it replaced by its mask (case-insensitively); a phone
    however it is written (`+1 311 555 2368`, `(311) 555-2368`, `3115552368`)."""
    for item in sorted(items, key=lambda i: len(i.value), reverse=True):
        text = re.sub(_written(item), mask(item), text, flags=re.IGNORECASE)
    return text


# What people put between a phone's digits.
_GAP = r"[ .\-()]*"


def _written(item: Identifier) -> str:
    """A pattern for `item` as a person may write it in a note."""
    if item.kind != ident.PHONE:
        return re.escape(item.value)
    try:
        parsed = phonenumbers.parse(item.value, None)
    except phonenumbers.NumberParseException:
        return re.escape(item.value)
    national = _GAP.join(str(parsed.national_number))
    # International (`+1`, `001`, `0111`), or national with or without a trunk `0`.
    code = parsed.country_code
    prefix = rf"(?:(?:\+|00|011){_GAP}{code}{_GAP}|{code}{_GAP}|0{_GAP})?"
    return rf"(?<![0-9])\(?{prefix}{national}(?![0-9])"


@dataclass(frozen=True)
class Subject:
    """Who a request is about: at most one phone, email and client user id (normalised)."""

    phone: Identifier | None = None
    email: Identifier | None = None
    client_user_id: Identifier | None = None

    @property
    def identifiers(self) -> tuple[Identifier, ...]:
        return tuple(i for i in (self.phone, self.email, self.client_user_id) if i is not None)
