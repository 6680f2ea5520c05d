"""Installing an app on a company: the authorize request, consent, codes, uninstall."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from heedful.core import ids, nul
from heedful.core.clock import Clock
from heedful.core.crypto import hash_secret, new_secret
from heedful.errors import InvalidRequest, NotFound
from heedful.oauth import repository
from heedful.oauth.scopes import SCOPE_DESCRIPTIONS, parse_requested_scopes
from heedful.storage.models import Application, Company
from heedful.storage.models.oauth import AuthorizationCode, Installation
from heedful.webhooks import service as webhooks

CODE_LIFETIME = timedelta(minutes=10)
AUTHORIZE_PARAMETERS = ("client_id", "redirect_uri", "scope", "state", "response_type")


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated `/oauth/authorize` request: safe to redirect to `redirect_uri`."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    application_name: str

    def query(self) -> dict[str, str]:
        """The request as authorize query parameters (to come back to the page)."""
        values = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.scopes),
        }
        return values | ({"state": self.state} if self.state is not None else {})


@dataclass(frozen=True)
class Approver:
    """The company an approval installs the app on."""

    company_id: int
    name: str
    domain: str
    public_id: str


@dataclass(frozen=True)
class ConsentView:
    request: AuthorizeRequest
    approver: Approver | None  # None: someone must sign in with a company admin key first
    scopes: tuple[tuple[str, str], ...]  # (scope, what it allows in words)


def validate_authorize(session: Session, params: Mapping[str, Sequence[str]]) -> AuthorizeRequest:
    """Check an authorize request; any problem is an InvalidRequest (an error page, never a
    redirect: the redirect URI is trusted only once it matches a registered one)."""
    values = {name: _single(params, name) for name in AUTHORIZE_PARAMETERS}
    client_id = values["client_id"]
    if not client_id:
        raise InvalidRequest("The request has no `client_id`")
    application = repository.application_by_client_id(session, client_id)
    if application is None:
        raise InvalidRequest(f"Unknown client_id '{client_id}': no such application")
    redirect_uri = values["redirect_uri"]
    if not redirect_uri:
        raise InvalidRequest("The request has no `redirect_uri`")
    if redirect_uri not in application.redirect_uris:
        raise InvalidRequest(
            f"redirect_uri '{redirect_uri}' is not registered for application '{application.name}'"
        )
    if values["response_type"] not in (None, "code"):
        raise InvalidRequest("Unsupported `response_type`: only 'code' is supported")
    scopes = parse_requested_scopes(values["scope"] or "")
    if not scopes:
        raise InvalidRequest("The request has no `scope`")
    beyond = [scope for scope in scopes if scope not in application.scopes]
    if beyond:
        raise InvalidRequest(
            f"Application '{application.name}' is not registered for scope '{beyond[0]}'"
        )
    return AuthorizeRequest(
        client_id, redirect_uri, tuple(scopes), values["state"], application.name
    )


def consent_view(
    session: Session,
    params: Mapping[str, Sequence[str]],
    signed_in: int | None,
    *,
    development: bool,
) -> ConsentView:
    """What the consent page shows: the app, the scopes in words and who approves."""
    request = validate_authorize(session, params)
    approver = find_approver(session, signed_in, development=development)
    described = tuple((scope, SCOPE_DESCRIPTIONS.get(scope, scope)) for scope in request.scopes)
    return ConsentView(request, approver, described)


def find_approver(session: Session, signed_in: int | None, *, development: bool) -> Approver | None:
    """The signed-in company; in development mode the dev company when nobody signed in."""
    company = repository.company_by_id(session, signed_in) if signed_in is not None else None
    if company is None and development:
        company = repository.development_company(session)
    return _approver(company) if company is not None else None


def sign_in(session: Session, admin_key: str) -> Approver:
    """The company whose admin key this is (made by `heedful company create`)."""
    company = repository.company_by_admin_key_hash(session, hash_secret(admin_key.strip()))
    if company is None:
        raise NotFound("That admin key does not belong to any company")
    return _approver(company)


def approve(
    session: Session,
    clock: Clock,
    params: Mapping[str, Sequence[str]],
    company_id: int,
    granted: Sequence[str],
) -> tuple[AuthorizeRequest, str]:
    """Install (or re-install) the app on the company with the granted scopes, which may only
    narrow the requested ones; returns the authorization code for the redirect."""
    request = validate_authorize(session, params)
    beyond = sorted(set(granted) - set(request.scopes))
    if beyond:
        raise InvalidRequest(f"Scope '{beyond[0]}' was not requested")
    scopes = [scope for scope in request.scopes if scope in granted]
    if not scopes:
        raise InvalidRequest("Grant at least one scope, or deny the request")
    application = repository.application_by_client_id(session, request.client_id)
    assert application is not None  # validated just above, in this transaction
    installation = _install(session, clock, application, company_id, scopes)
    code = new_secret(nbytes=24)
    now = clock.now()
    session.add(
        AuthorizationCode(
            company_id=company_id,
            application_id=application.id,
            installation_id=installation.id,
            code_hash=hash_secret(code),
            redirect_uri=request.redirect_uri,
            scopes=scopes,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    session.flush()
    return request, code


def uninstall(session: Session, clock: Clock, application: Application, company: Company) -> int:
    """Revoke the installation and every token issued through it, and delete the webhooks the
    app made in the company; returns how many tokens were revoked."""
    installation = repository.installation(session, company.id, application.id)
    if installation is None or installation.revoked_at is not None:
        raise NotFound(f"Application '{application.name}' is not installed on '{company.name}'")
    now = clock.now()
    installation.revoked_at = now
    installation.updated_at = now
    repository.delete_unused_codes(session, company.id, installation.id)
    revoked = repository.revoke_installation_tokens(session, company.id, installation.id, now)
    # No more of the company's data goes to the app: the webhooks it made there go too.
    webhooks.delete_application_webhooks(session, clock, company.id, application.id)
    session.flush()
    return revoked


def _install(
    session: Session, clock: Clock, application: Application, company_id: int, scopes: list[str]
) -> Installation:
    now = clock.now()
    # Locked until commit: a code exchanged meanwhile waits, then issues only what this grants.
    installation = repository.installation(session, company_id, application.id, for_update=True)
    if installation is None:
        try:
            with session.begin_nested():  # two approvals at once: the second one updates
                installation = Installation(
                    company_id=company_id,
                    application_id=application.id,
                    scopes=scopes,
                    created_at=now,
                    updated_at=now,
                )
                session.add(installation)
        except IntegrityError:
            installation = repository.installation(
                session, company_id, application.id, for_update=True
            )
            assert installation is not None
    installation.scopes = scopes
    installation.updated_at = now
    installation.revoked_at = None
    _narrow_tokens(session, clock, installation)
    session.flush()
    return installation


def _narrow_tokens(session: Session, clock: Clock, installation: Installation) -> None:
    """Installing again replaces the grant, so a token issued before keeps only the scopes
    still granted (it never gains any); one left with none is revoked."""
    for token in repository.live_installation_tokens(
        session, installation.company_id, installation.id
    ):
        kept = [scope for scope in token.scopes if scope in installation.scopes]
        if not kept:
            token.revoked_at = clock.now()
        elif kept != token.scopes:
            token.scopes = kept


def _approver(company: Company) -> Approver:
    return Approver(company.id, company.name, company.domain, ids.COMPANY.encode(company.id))


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise InvalidRequest(f"`{name}` is given more than once")
    if values and nul.NUL in values[0]:
        # PostgreSQL cannot compare text holding one: the client_id lookup would be a 500.
        raise InvalidRequest(f"`{name}` must not contain NUL characters")
    return values[0] if values else None
