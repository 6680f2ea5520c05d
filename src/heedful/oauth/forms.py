"""Reading `application/x-www-form-urlencoded` bodies and HTTP Basic client credentials."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, unquote_plus

from heedful.errors import InvalidRequest
from heedful.oauth.service import TokenRefused, TokenRequest

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 100


def parse_form(body: bytes) -> dict[str, list[str]]:
    """The fields of a form body (repeated names keep every value); 400 when unreadable."""
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"Unreadable form body: {exc}") from exc
    for name, values in fields.items():
        # PostgreSQL's text types cannot hold NUL: the lookup would fail as a 500 there.
        if any("\x00" in value for value in values):
            raise InvalidRequest(f"`{name}` must not contain NUL characters")
    return fields


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """`Authorization: Basic` client credentials (RFC 6749 §2.3.1), form-decoded; else None."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")  # Basic was attempted: an authentication failure, not anonymity
    raw_id, _, raw_secret = decoded.partition(":")
    client_id, client_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    if "\x00" in client_id:
        # No client id holds NUL, and PostgreSQL's text types cannot: the lookup would be a 500.
        return ("", "")
    return client_id, client_secret


def token_request(
    body: bytes, content_type: str | None, authorization: str | None
) -> TokenRequest | TokenRefused:
    """A token request from its form body and Authorization header (RFC 6749 §4.1.3, §2.3)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != FORM_TYPE:
        return TokenRefused("invalid_request", f"The body must be {FORM_TYPE}")
    try:
        fields = parse_form(body)
    except InvalidRequest as exc:
        return TokenRefused("invalid_request", exc.message)
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:
        return TokenRefused("invalid_request", f"`{repeated[0]}` is given more than once")
    values = {name: found[0] for name, found in fields.items()}
    basic = basic_credentials(authorization)
    client_id, client_secret = values.get("client_id"), values.get("client_secret")
    if basic is not None:
        if client_secret is not None:
            return TokenRefused("invalid_request", "Use one client authentication method, not two")
        if client_id is not None and client_id != basic[0]:
            return TokenRefused("invalid_client", "`client_id` differs from the Basic one")
        client_id, client_secret = basic
    return TokenRequest(
        grant_type=values.get("grant_type"),
        code=values.get("code"),
        redirect_uri=values.get("redirect_uri"),
        client_id=client_id,
        client_secret=client_secret,
    )


def client_id_of(body: bytes, authorization: str | None) -> str | None:
    """Who is asking, for rate limiting: the Basic or form `client_id`, if any."""
    basic = basic_credentials(authorization)
    if basic is not None and basic[0]:
        return basic[0]
    try:
        found = parse_form(body).get("client_id")
    except InvalidRequest:
        return None
    return found[0] if found else None
