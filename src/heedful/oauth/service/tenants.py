"""Tenants and credentials: companies, applications, API keys, bearer-token lookup, `/me`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from heedful.core import ids
from heedful.core.clock import Clock
from heedful.core.crypto import hash_secret, new_secret, secret_matches
from heedful.core.numbers import parse_digits
from heedful.errors import InvalidRequest, NotFound, Unauthorized
from heedful.oauth import repository
from heedful.oauth.scopes import KNOWN_SCOPES
from heedful.storage.models import AccessToken, Application, Company
from heedful.storage.models.oauth import Installation

API_KEY_PREFIX = "hdf_"
DEV_COMPANY_NAME = "Dev Company"
DEV_APP_NAME = "dev"


@dataclass(frozen=True)
class AuthContext:
    """Who is calling: the result of a successful bearer-token lookup."""

    company_id: int
    application_id: int
    token_id: int
    scopes: frozenset[str]


@dataclass(frozen=True)
class NewCompany:
    company: Company
    admin_key: str = field(repr=False)


@dataclass(frozen=True)
class NewApplication:
    application: Application
    client_secret: str = field(repr=False)
    api_key: str = field(repr=False)


@dataclass(frozen=True)
class MeView:
    application_name: str
    attentive_domain_name: str
    company_name: str
    contact_email: str
    company_id: str


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower()) or "company"


def create_company(
    session: Session,
    clock: Clock,
    name: str,
    *,
    domain: str | None = None,
    contact_email: str | None = None,
    development: bool = False,
) -> NewCompany:
    if not name.strip():
        raise InvalidRequest("Company name must not be empty")
    admin_key = new_secret("hdfadm_")
    company = Company(
        name=name.strip(),
        domain=domain or f"{slug(name)}.attn.tv",
        contact_email=contact_email or f"admin@{slug(name)}.example",
        is_development=development,
        admin_key_hash=hash_secret(admin_key),
        created_at=clock.now(),
    )
    session.add(company)
    session.flush()
    return NewCompany(company, admin_key)


def create_application(
    session: Session,
    clock: Clock,
    company: Company,
    name: str,
    scopes: list[str],
    *,
    redirect_uris: list[str] | None = None,
    contact_email: str | None = None,
    api_key: str | None = None,
) -> NewApplication:
    """`api_key`: the value of the app's first API key (else a random one)."""
    if not name.strip():
        raise InvalidRequest("Application name must not be empty")
    for uri in redirect_uris or []:
        check_redirect_uri(uri)
    client_secret = new_secret(nbytes=24)
    application = Application(
        company_id=company.id,
        name=name.strip(),
        contact_email=contact_email or company.contact_email,
        client_id=new_secret(nbytes=16),
        client_secret_hash=hash_secret(client_secret),
        scopes=scopes,
        redirect_uris=redirect_uris or [],
        created_at=clock.now(),
    )
    session.add(application)
    session.flush()
    issued = issue_api_key(session, clock, application, value=api_key)
    return NewApplication(application, client_secret, issued)


# Schemes that make a browser run or render what follows instead of handing it to an app:
# a consent redirect there would run script in the page of whoever approved.
SCRIPT_SCHEMES = frozenset({"javascript", "data", "vbscript"})


def check_redirect_uri(uri: str) -> None:
    """A redirect URI must be absolute and carry no fragment (RFC 6749 §3.1.2); any scheme an
    app can receive on is allowed (https, http, a native app's own: RFC 8252), script ones not."""
    parts = urlsplit(uri)
    if not parts.scheme or not (parts.netloc or parts.path) or "#" in uri or len(uri) > 2048:
        raise InvalidRequest(
            f"Redirect URI '{uri}' must be an absolute URI without a fragment (e.g. https://app/cb)"
        )
    if parts.scheme.lower() in SCRIPT_SCHEMES:
        raise InvalidRequest(f"Redirect URI '{uri}' must not use the {parts.scheme}: scheme")


def rotate_client_secret(session: Session, application: Application) -> str:
    """A new client secret (shown once); the old one stops working for the token exchange."""
    client_secret = new_secret(nbytes=24)
    application.client_secret_hash = hash_secret(client_secret)
    session.flush()
    return client_secret


def issue_api_key(
    session: Session,
    clock: Clock,
    application: Application,
    scopes: list[str] | None = None,
    *,
    value: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Make a bearer token for `application`; its scopes may only narrow the app's."""
    granted = application.scopes if scopes is None else scopes
    beyond = sorted(set(granted) - set(application.scopes))
    if beyond:
        raise InvalidRequest(f"Application '{application.name}' does not hold: {', '.join(beyond)}")
    token = value or new_secret(API_KEY_PREFIX)
    session.add(
        AccessToken(
            company_id=application.company_id,
            application_id=application.id,
            kind="api_key",
            token_hash=hash_secret(token),
            hint=token[:8],
            scopes=list(granted),
            created_at=clock.now(),
            expires_at=expires_at,
        )
    )
    session.flush()
    return token


def authenticate(session: Session, clock: Clock, token: str) -> AuthContext:
    record = repository.token_grant(session, hash_secret(token))
    if record is None or not secret_matches(token, record.token_hash):
        raise Unauthorized()
    now = clock.now()
    if record.revoked_at is not None or (record.expires_at and record.expires_at <= now):
        raise Unauthorized()
    return AuthContext(
        record.company_id, record.application_id, record.id, frozenset(record.scopes)
    )


def revoke_token(session: Session, clock: Clock, token: str) -> AccessToken:
    record = repository.token_by_hash(session, hash_secret(token))
    if record is None:
        raise NotFound("No such token")
    if record.revoked_at is None:
        record.revoked_at = clock.now()
    return record


def describe_me(session: Session, auth: AuthContext) -> MeView:
    """The calling app and the company the token acts for: the app's owner for an API key,
    the installing company for an OAuth token."""
    company = repository.company_by_id(session, auth.company_id)
    application = session.get(Application, auth.application_id)
    token = session.get(AccessToken, auth.token_id)
    if company is None or application is None or token is None:
        raise Unauthorized()
    if token.installation_id is None:
        if application.company_id != company.id:
            raise Unauthorized()
    else:
        installation = session.get(Installation, token.installation_id)
        if (
            installation is None
            or installation.revoked_at is not None
            or installation.company_id != company.id
            or installation.application_id != application.id
        ):
            raise Unauthorized()
    return MeView(
        application_name=application.name,
        attentive_domain_name=company.domain,
        company_name=company.name,
        contact_email=application.contact_email,
        company_id=ids.COMPANY.encode(company.id),
    )


def find_company(session: Session, ref: str) -> Company:
    """A company by public id, number or exact name (as the CLI accepts them)."""
    number = ids.COMPANY.decode(ref) or parse_digits(ref)
    if number is not None and (company := repository.company_by_id(session, number)):
        return company
    named = repository.company_by_name(session, ref)
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise InvalidRequest(f"Several companies are named '{ref}'; use the company id")
    shown = ref if len(ref) <= 80 else ref[:80] + "…"  # not a 100 kB query echoed back
    raise NotFound(f"No company '{shown}'")


def find_application(session: Session, ref: str, company: Company | None = None) -> Application:
    """An application by client id or by name (within `company` when given)."""
    by_client_id = repository.application_by_client_id(session, ref)
    if by_client_id and (company is None or by_client_id.company_id == company.id):
        return by_client_id
    named = repository.applications_named(session, ref, company.id if company else None)
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise InvalidRequest(
            f"Several applications are named '{ref}'; pass --company or a client id"
        )
    raise NotFound(f"No application '{ref}'")


def list_companies(session: Session) -> list[Company]:
    return list(repository.all_companies(session))


def all_scopes() -> list[str]:
    return list(KNOWN_SCOPES)
