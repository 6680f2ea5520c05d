"""The consent page's session: a signed cookie holding a CSRF nonce and the signed-in company.

The cookie is `base64url(json).base64url(HMAC-SHA256(secret, json))`: the server keeps no
session state, and a cookie that was tampered with, or signed with another secret (heedful
restarted in development without `HEEDFUL_SECRET_KEY`), simply starts a new session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

COOKIE_NAME = "heedful_consent"
COOKIE_PATH = "/oauth"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class ConsentSession:
    csrf: str
    company_id: int | None
    expires: int  # unix seconds

    def signed_in(self, company_id: int, now: datetime) -> ConsentSession:
        """After a sign-in: a new CSRF nonce too, so nothing from before carries over."""
        return replace(new_session(now), company_id=company_id)

    def csrf_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def new_session(now: datetime) -> ConsentSession:
    return ConsentSession(secrets.token_urlsafe(24), None, int((now + LIFETIME).timestamp()))


def encode(session: ConsentSession, secret: str) -> str:
    payload = json.dumps(
        {"csrf": session.csrf, "company": session.company_id, "exp": session.expires},
        separators=(",", ":"),
    ).encode()
    return f"{_b64(payload)}.{_b64(_sign(payload, secret))}"


def decode(cookie: str | None, secret: str, now: datetime) -> ConsentSession | None:
    """The session in `cookie`, or None when it is missing, forged or expired."""
    if not cookie or cookie.count(".") != 1:
        return None
    payload_part, signature_part = cookie.split(".")
    try:
        payload, signature = _unb64(payload_part), _unb64(signature_part)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(signature, _sign(payload, secret)):
        return None
    try:
        data = json.loads(payload)
        session = ConsentSession(str(data["csrf"]), data["company"], int(data["exp"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires <= now.timestamp():
        return None
    if session.company_id is not None and not isinstance(session.company_id, int):
        return None
    return session


def _sign(payload: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), b"consent-session:" + payload, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
