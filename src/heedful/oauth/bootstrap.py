"""The development tenant that `heedful serve` ensures on first start."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from heedful.core.clock import Clock
from heedful.core.crypto import hash_secret
from heedful.oauth import repository, service
from heedful.oauth.scopes import KNOWN_SCOPES
from heedful.storage.db import serialise_until_commit
from heedful.storage.models import Application, Company, SignUpSource

# Any fixed number, not the migrations' (heedful.storage.migrate): several `heedful serve`
# starting at once on one PostgreSQL set the development tenant up one after the other.
_BOOTSTRAP_LOCK_KEY = 0x68656565

DEFAULT_SIGNUP_SOURCES = (
    ("API Marketing", "MARKETING"),
    ("API Transactional", "TRANSACTIONAL"),
)


@dataclass(frozen=True)
class DevelopmentSetup:
    company: Company
    application: Application
    # Set only when this call created a key (shown once).
    new_api_key: str | None = field(repr=False)


def ensure_development_setup(
    session: Session, clock: Clock, bootstrap_token: str | None = None
) -> DevelopmentSetup:
    """Create the dev company, its all-scopes app and an API key once; reuse them later.

    Check-then-insert, so concurrent calls take turns: without that, two first starts each
    made a Dev Company, or the second failed storing the same bootstrap token."""
    serialise_until_commit(session, _BOOTSTRAP_LOCK_KEY)
    company = repository.development_company(session)
    if company is None:
        created = service.create_company(
            session,
            clock,
            service.DEV_COMPANY_NAME,
            domain="devcompany.attn.tv",
            contact_email="dev@heedful.local",
            development=True,
        )
        company = created.company
        _add_default_signup_sources(session, clock, company)
    application, new_key = _ensure_dev_application(session, clock, company, bootstrap_token)
    if bootstrap_token and repository.token_by_hash(session, hash_secret(bootstrap_token)) is None:
        service.issue_api_key(session, clock, application, value=bootstrap_token)
    return DevelopmentSetup(company, application, new_key)


def _ensure_dev_application(
    session: Session, clock: Clock, company: Company, bootstrap_token: str | None
) -> tuple[Application, str | None]:
    """The dev app, and the key made with it if this call made it. Given a bootstrap token,
    that is the app's key: no other key is made (one nobody asked for, shown in a log)."""
    existing = repository.applications_named(session, service.DEV_APP_NAME, company.id)
    if existing:
        application = existing[0]
        missing = [scope for scope in KNOWN_SCOPES if scope not in application.scopes]
        if missing:  # a newer heedful knows more scopes; the dev app holds them all
            application.scopes = [*application.scopes, *missing]
        return application, None
    created = service.create_application(
        session, clock, company, service.DEV_APP_NAME, list(KNOWN_SCOPES), api_key=bootstrap_token
    )
    return created.application, None if bootstrap_token else created.api_key


def _add_default_signup_sources(session: Session, clock: Clock, company: Company) -> None:
    for name, subscription_type in DEFAULT_SIGNUP_SOURCES:
        session.add(
            SignUpSource(
                company_id=company.id,
                name=name,
                subscription_type=subscription_type,
                source_type="API",
                opt_in_mode="double",
                locale="en-US",
                created_at=clock.now(),
            )
        )
    session.flush()
