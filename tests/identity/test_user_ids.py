from __future__ import annotations

from sqlalchemy import delete

from heedful.identity import identifiers as ident
from heedful.identity import service
from heedful.runtime import Runtime
from heedful.storage.models.identity import User, UserIdentifier
from tests.factories import make_company


def test_a_deleted_users_id_is_never_given_again(runtime: Runtime) -> None:
    company = make_company(runtime)
    with runtime.db.transaction() as session:
        first = service.resolve(
            session, runtime.clock, company.id, [ident.phone("+13115552368", "phone")]
        ).user_id
    with runtime.db.transaction() as session:
        session.execute(delete(UserIdentifier).where(UserIdentifier.user_id == first))
        session.execute(delete(User).where(User.id == first))

    with runtime.db.transaction() as session:
        second = service.resolve(
            session, runtime.clock, company.id, [ident.email("a@example.com", "email")]
        ).user_id

    assert second > first
