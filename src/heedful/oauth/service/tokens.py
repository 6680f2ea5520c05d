"""The token exchange (RFC 6749 §4.1.3): an authorization code for an access token."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import jwt
from sqlalchemy.orm import Session

from heedful.core import ids
from heedful.core.clock import Clock
from heedful.core.crypto import hash_secret, new_secret, secret_matches
from heedful.oauth import repository
from heedful.storage.models import AccessToken, Application
from heedful.storage.models.oauth import AuthorizationCode, Installation

OAUTH_TOKEN_PREFIX = "hdfo_"
# An id_token lives this long when access tokens do not expire.
ID_TOKEN_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class TokenRequest:
    """The fields of a token request, the client's credentials from the body or Basic auth."""

    grant_type: str | None
    code: str | None = field(repr=False)
    redirect_uri: str | None
    client_id: str | None
    client_secret: str | None = field(repr=False)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str = field(repr=False)
    id_token: str = field(repr=False)
    expires_in: int | None  # None: the token does not expire
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class TokenRefused:
    """An RFC 6749 §5.2 error: 400 with `error`, or 401 `invalid_client`."""

    error: str
    description: str

    @property
    def status(self) -> int:
        return 401 if self.error == "invalid_client" else 400


def exchange_code(
    session: Session, clock: Clock, request: TokenRequest, *, issuer: str, token_ttl: int
) -> IssuedToken | TokenRefused:
    """Trade a code for an access token and an id_token.

    Refusals are returned, not raised, so that the transaction still commits what they did:
    a code presented again revokes the token issued from it (RFC 6749 §4.1.2).
    """
    if not request.grant_type:
        return TokenRefused("invalid_request", "`grant_type` is required")
    if request.grant_type != "authorization_code":
        return TokenRefused("unsupported_grant_type", "`grant_type` must be 'authorization_code'")
    application = _authenticate_client(session, request)
    if application is None:
        return TokenRefused("invalid_client", "Client authentication failed")
    if not request.code:
        return TokenRefused("invalid_request", "`code` is required")
    if not request.redirect_uri:
        return TokenRefused("invalid_request", "`redirect_uri` is required")
    code = repository.code_by_hash(session, hash_secret(request.code))
    if code is None or code.application_id != application.id:
        return TokenRefused("invalid_grant", "Unknown authorization code")
    if code.used_at is not None:
        return _replayed(session, clock, code)
    now = clock.now()
    if code.expires_at <= now:
        return TokenRefused("invalid_grant", "The authorization code has expired")
    if request.redirect_uri != code.redirect_uri:
        return TokenRefused(
            "invalid_grant", "`redirect_uri` does not match the one the code was issued for"
        )
    # Locked until commit, so a concurrent re-install narrows this token too, or waits for it.
    installation = session.get(Installation, code.installation_id, with_for_update=True)
    if installation is None or installation.revoked_at is not None:
        return TokenRefused("invalid_grant", "The application has been uninstalled")
    # The app was installed again since this code was issued: only what is granted now holds.
    scopes = [scope for scope in code.scopes if scope in installation.scopes]
    if not scopes:
        return TokenRefused(
            "invalid_grant", "The installation no longer grants the scopes of this code"
        )
    if not repository.claim_code(session, code, now):
        # A concurrent exchange won and has committed: read the token it stored, which the
        # code as read above predates, so that this replay revokes it like a later one would.
        session.refresh(code)
        return _replayed(session, clock, code)
    return _issue(session, clock, code, scopes, application, request, issuer, token_ttl)


def _authenticate_client(session: Session, request: TokenRequest) -> Application | None:
    if not request.client_id or not request.client_secret:
        return None
    application = repository.application_by_client_id(session, request.client_id)
    if application is None or not secret_matches(
        request.client_secret, application.client_secret_hash
    ):
        return None
    return application


def _replayed(session: Session, clock: Clock, code: AuthorizationCode) -> TokenRefused:
    if code.access_token_id is not None:
        repository.revoke_token_id(session, code.company_id, code.access_token_id, clock.now())
    return TokenRefused(
        "invalid_grant",
        "The authorization code was already used; tokens issued from it are revoked",
    )


def _issue(
    session: Session,
    clock: Clock,
    code: AuthorizationCode,
    scopes: list[str],
    application: Application,
    request: TokenRequest,
    issuer: str,
    token_ttl: int,
) -> IssuedToken:
    now = clock.now()
    value = new_secret(OAUTH_TOKEN_PREFIX)
    token = AccessToken(
        company_id=code.company_id,
        application_id=application.id,
        installation_id=code.installation_id,
        kind="oauth",
        token_hash=hash_secret(value),
        hint=value[:8],
        scopes=scopes,
        created_at=now,
        expires_at=now + timedelta(seconds=token_ttl) if token_ttl else None,
    )
    session.add(token)
    session.flush()
    code.access_token_id = token.id
    lifetime = timedelta(seconds=token_ttl) if token_ttl else ID_TOKEN_LIFETIME
    claims = {
        "iss": issuer,
        "sub": ids.COMPANY.encode(code.company_id),
        "aud": application.client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    # Signed with the client secret (HS256), as OpenID Connect does for symmetric keys, so the
    # app can verify it with the secret it already holds.
    assert request.client_secret is not None  # the client authenticated with it
    id_token = jwt.encode(claims, request.client_secret, algorithm="HS256")
    return IssuedToken(value, id_token, token_ttl or None, tuple(scopes))
