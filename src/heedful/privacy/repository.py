"""Every query on privacy requests; each filters by company_id (the operator's listing says why
it may not)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from heedful.storage.models import SignUpSource
from heedful.storage.models.privacy import PrivacyRequest


def add(session: Session, request: PrivacyRequest) -> PrivacyRequest:
    session.add(request)
    session.flush()
    return request


def by_public_id(session: Session, company_id: int, public_id: str) -> PrivacyRequest | None:
    stmt = select(PrivacyRequest).where(
        PrivacyRequest.company_id == company_id, PrivacyRequest.public_id == public_id
    )
    return session.scalars(stmt).first()


def for_update(session: Session, company_id: int, request_id: int) -> PrivacyRequest | None:
    stmt = (
        select(PrivacyRequest)
        .where(PrivacyRequest.company_id == company_id, PrivacyRequest.id == request_id)
        .with_for_update()
    )
    return session.scalars(stmt).first()


def listing(
    session: Session,
    company_id: int | None,
    *,
    processed: bool | None = None,
    hashes: Sequence[str] = (),
    among: Collection[int] | None = None,
    besides: Collection[int] = (),
    limit: int = 100,
) -> Sequence[PrivacyRequest]:
    """Newest first; only the ids in `among` (when given), none in `besides`. Unscoped when
    `company_id` is None: only the operator (admin API, CLI) lists across companies."""
    stmt = select(PrivacyRequest).order_by(PrivacyRequest.id.desc()).limit(limit)
    if company_id is not None:
        stmt = stmt.where(PrivacyRequest.company_id == company_id)
    if processed is not None:
        stmt = stmt.where(PrivacyRequest.processed == processed)
    if among is not None:
        stmt = stmt.where(PrivacyRequest.id.in_(list(among)))
    if besides:
        stmt = stmt.where(PrivacyRequest.id.not_in(list(besides)))
    if hashes:
        stmt = stmt.where(
            or_(
                PrivacyRequest.phone_hash.in_(hashes),
                PrivacyRequest.email_hash.in_(hashes),
                PrivacyRequest.client_user_id_hash.in_(hashes),
            )
        )
    return session.scalars(stmt).all()


def signup_locales(session: Session, company_id: int) -> list[str]:
    stmt = select(SignUpSource.locale).where(SignUpSource.company_id == company_id).distinct()
    return [str(locale) for locale in session.scalars(stmt)]
