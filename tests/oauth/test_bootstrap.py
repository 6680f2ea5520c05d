from __future__ import annotations

import contextlib
import threading

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heedful.oauth import repository
from heedful.oauth.bootstrap import DevelopmentSetup, ensure_development_setup
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
    assert count(runtime, AccessToken) == 1  # the bootstrap key alone: no other one is made


def test_tokens_are_stored_only_as_hashes(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        key = ensure_development_setup(session, runtime.clock).new_api_key
        stored = session.scalars(select(AccessToken)).one()

    assert key is not None
    assert key not in (stored.token_hash, stored.hint)
    assert len(stored.token_hash) == 64 and stored.hint == key[:8]


@pytest.mark.parametrize("bootstrap_token", [None, "ci-bootstrap-token-0123456789"])
def test_two_first_starts_at_once_make_one_development_tenant(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, bootstrap_token: str | None
) -> None:
    """Two `heedful serve` on one empty PostgreSQL: each start looks for the dev company and,
    seeing none, would create its own (and both would store the bootstrap token, whose hash is
    unique: the second start failed). The second start must wait and reuse the first's."""
    both_looked = threading.Barrier(2)
    look = repository.development_company

    def look_then_wait_for_the_other(session: Session) -> Company | None:
        found = look(session)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_looked.wait(timeout=1)  # never met when one start waits for the other
        return found

    monkeypatch.setattr(repository, "development_company", look_then_wait_for_the_other)
    setups: list[DevelopmentSetup] = []
    errors: list[Exception] = []

    def start() -> None:
        try:
            with runtime.db.transaction() as session:
                setups.append(ensure_development_setup(session, runtime.clock, bootstrap_token))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len({setup.company.id for setup in setups}) == 1
    assert count(runtime, Company) == 1 and count(runtime, SignUpSource) == 2
    # One key in all: printed once without a bootstrap token; with one, it is that token.
    made = [setup.new_api_key is not None for setup in setups].count(True)
    assert made == (1 if bootstrap_token is None else 0)
    assert count(runtime, AccessToken) == 1
