from __future__ import annotations

import httpx
from sqlalchemy import func, select

from heedful.oauth.bootstrap import ensure_development_setup
from heedful.oauth.scopes import KNOWN_SCOPES
from heedful.runtime import Runtime
from heedful.storage.models import AccessToken, Company, SignUpSource


def count(runtime: Runtime, model: type) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_first_start_creates_the_development_tenant(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        setup = ensure_development_setup(session, runtime.clock)
        sources = session.scalars(select(SignUpSource)).all()

    assert setup.company.name == "Dev Company" and setup.company.is_development
    assert setup.application.name == "dev"
    assert set(setup.application.scopes) == set(KNOWN_SCOPES)
    assert setup.new_api_key is not None and setup.new_api_key.startswith("hdf_")
    assert sorted(s.subscription_type for s in sources) == ["MARKETING", "TRANSACTIONAL"]
    assert {s.source_type for s in sources} == {"API"}


def test_later_starts_reuse_everything(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        first = ensure_development_setup(session, runtime.clock)
    with runtime.db.transaction() as session:
        second = ensure_development_setup(session, runtime.clock)

    assert second.company.id == first.company.id
    assert second.application.id == first.application.id
    assert second.new_api_key is None
    assert (count(runtime, Company), count(runtime, AccessToken), count(runtime, SignUpSource)) == (
        1,
        1,
        2,
    )


async def test_bootstrap_token_is_accepted_as_is(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    token = "ci-bootstrap-token-0123456789"
    for _ in range(2):
        with runtime.db.transaction() as session:
            ensure_development_setup(session, runtime.clock, bootstrap_token=token)

    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json()["companyName"] == "Dev Company"
    assert count(runtime, AccessToken) == 2  # the printed dev key and the bootstrap key, once each


def test_tokens_are_stored_only_as_hashes(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        key = ensure_development_setup(session, runtime.clock).new_api_key
        stored = session.scalars(select(AccessToken)).one()

    assert key is not None
    assert key not in (stored.token_hash, stored.hint)
    assert len(stored.token_hash) == 64 and stored.hint == key[:8]
