"""All queries on companies, applications and tokens."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from heedful.storage.models import AccessToken, Application, Company, SignUpSource


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


def signup_sources(session: Session, company_id: int) -> Sequence[SignUpSource]:
    stmt = select(SignUpSource).where(SignUpSource.company_id == company_id)
    return session.scalars(stmt.order_by(SignUpSource.id)).all()
