"""All queries on companies, applications and tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, select, update
from sqlalchemy.orm import Session

from heedful.storage.models import AccessToken, Application, Company, SignUpSource
from heedful.storage.models.oauth import AuthorizationCode, Installation


def company_by_id(session: Session, company_id: int) -> Company | None:
    return session.get(Company, company_id)


def company_by_name(session: Session, name: str) -> Sequence[Company]:
    return session.scalars(select(Company).where(Company.name == name)).all()


def development_company(session: Session) -> Company | None:
    stmt = select(Company).where(Company.is_development.is_(True)).order_by(Company.id)
    return session.scalars(stmt.limit(1)).first()


def all_companies(session: Session) -> Sequence[Company]:
    # Deliberately unscoped: only the admin CLI and the admin API list every tenant.
    return session.scalars(select(Company).order_by(Company.id)).all()


def application_by_client_id(session: Session, client_id: str) -> Application | None:
    return session.scalars(select(Application).where(Application.client_id == client_id)).first()


def applications_named(
    session: Session, name: str, company_id: int | None
) -> Sequence[Application]:
    stmt = select(Application).where(Application.name == name)
    if company_id is not None:
        stmt = stmt.where(Application.company_id == company_id)
    return session.scalars(stmt.order_by(Application.id)).all()


def token_by_hash(session: Session, token_hash: str) -> AccessToken | None:
    # Unscoped by design: the token is what tells us the company.
    return session.scalars(select(AccessToken).where(AccessToken.token_hash == token_hash)).first()


@dataclass(frozen=True)
class TokenGrant:
    """What authenticating a request needs of a token row, read without the ORM."""

    id: int
    company_id: int
    application_id: int
    token_hash: str
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None


_TOKENS = AccessToken.__table__
_GRANT_COLUMNS = [_TOKENS.c[field.name] for field in fields(TokenGrant)]


def token_grant(session: Session, token_hash: str) -> TokenGrant | None:
    # Unscoped by design: the token is what tells us the company. A Core query: every
    # request runs it, and loading an ORM object costs three times as much.
    row = (
        session.connection()
        .execute(select(*_GRANT_COLUMNS).where(_TOKENS.c.token_hash == token_hash))
        .first()
    )
    return None if row is None else TokenGrant(*row)


def signup_sources(session: Session, company_id: int) -> Sequence[SignUpSource]:
    stmt = select(SignUpSource).where(SignUpSource.company_id == company_id)
    return session.scalars(stmt.order_by(SignUpSource.id)).all()


def company_by_admin_key_hash(session: Session, key_hash: str) -> Company | None:
    # Unscoped by design: the admin key is what tells us the company.
    return session.scalars(select(Company).where(Company.admin_key_hash == key_hash)).first()


def installation(
    session: Session, company_id: int, application_id: int, *, for_update: bool = False
) -> Installation | None:
    stmt = select(Installation).where(
        Installation.company_id == company_id, Installation.application_id == application_id
    )
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def live_installation_tokens(
    session: Session, company_id: int, installation_id: int
) -> Sequence[AccessToken]:
    """The tokens issued through one installation that are not revoked."""
    stmt = select(AccessToken).where(
        AccessToken.company_id == company_id,
        AccessToken.installation_id == installation_id,
        AccessToken.revoked_at.is_(None),
    )
    return session.scalars(stmt.order_by(AccessToken.id)).all()


def code_by_hash(session: Session, code_hash: str) -> AuthorizationCode | None:
    # Unscoped by design: the code is what tells us the company (its client is checked next).
    stmt = select(AuthorizationCode).where(AuthorizationCode.code_hash == code_hash)
    return session.scalars(stmt).first()


def claim_code(session: Session, code: AuthorizationCode, now: datetime) -> bool:
    """Mark `code` used unless it already is; False when another exchange got there first."""
    stmt = (
        update(AuthorizationCode)
        .where(
            AuthorizationCode.company_id == code.company_id,
            AuthorizationCode.id == code.id,
            AuthorizationCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = cast(CursorResult[Any], session.execute(stmt)).rowcount == 1
    if claimed:
        code.used_at = now
    return claimed


def revoke_installation_tokens(
    session: Session, company_id: int, installation_id: int, now: datetime
) -> int:
    """Revoke every live token issued through one installation; returns how many."""
    return _revoke(session, company_id, now, AccessToken.installation_id == installation_id)


def revoke_token_id(session: Session, company_id: int, token_id: int, now: datetime) -> int:
    return _revoke(session, company_id, now, AccessToken.id == token_id)


def _revoke(session: Session, company_id: int, now: datetime, which: ColumnElement[bool]) -> int:
    stmt = (
        update(AccessToken)
        .where(AccessToken.company_id == company_id, AccessToken.revoked_at.is_(None), which)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], session.execute(stmt)).rowcount


def delete_unused_codes(session: Session, company_id: int, installation_id: int) -> None:
    session.execute(
        delete(AuthorizationCode).where(
            AuthorizationCode.company_id == company_id,
            AuthorizationCode.installation_id == installation_id,
            AuthorizationCode.used_at.is_(None),
        )
    )
