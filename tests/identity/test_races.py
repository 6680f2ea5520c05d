"""Identify requests that arrive at once: every one answered, one user per identifier.

On PostgreSQL the requests really run side by side (the API's thread pool, one transaction
each); SQLite runs one writer at a time, so there they simply queue.
"""

from __future__ import annotations

import asyncio

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import func, select

from heedful.config import Settings
from heedful.runtime import Runtime
from heedful.storage.models.identity import User, UserIdentifier
from tests.races import wait_for_lock_waits

PATH = "/v1/identity-resolution/user-identifiers"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Identify allows 10 calls a second per token; these tests make more at once."""
    return settings.model_copy(update={"rate_limits": "off"})


@pytest.mark.parametrize("round_", range(3))
async def test_many_bridges_between_the_same_users_at_once_end_in_one_user(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str], round_: int
) -> None:
    phones = [{"phone": f"+1311555{2000 + i:04d}"} for i in range(5)]
    emails = [{"email": f"bridge{i}@example.com"} for i in range(5)]
    for user in phones + emails:
        assert (await client.post(PATH, json=user, headers=dev_headers)).status_code == 202
    # Every phone with every email: 25 merges of 10 users, most of them chasing the same ones.
    bridges = [{**phone, **email} for phone in phones for email in emails]

    answers = await asyncio.gather(
        *(client.post(PATH, json=body, headers=dev_headers) for body in bridges)
    )

    assert [answer.status_code for answer in answers] == [202] * len(bridges), [
        answer.text for answer in answers if answer.status_code != 202
    ]
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
        owners = session.scalars(select(UserIdentifier.user_id).distinct()).all()
    assert len(owners) == 1


async def test_an_identify_chosen_as_a_deadlock_victim_runs_again(
    client: httpx.AsyncClient, runtime: Runtime, dev_headers: dict[str, str], is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SQLite runs one writer at a time: no deadlocks")
    phone, email = {"phone": "+13115552368"}, {"email": "victim@example.com"}
    for user in (phone, email):
        assert (await client.post(PATH, json=user, headers=dev_headers)).status_code == 202
    with runtime.db.read() as session:
        first, second = session.scalars(select(User.id).order_by(User.id)).all()

    # Another transaction holds the second user; the merge locks the first and waits for it;
    # then the other asks for the first: a deadlock, and PostgreSQL cancels the transaction
    # that has waited longest (the merge). It used to answer 500.
    with runtime.db.engine.connect() as other:
        other.execute(select(User.id).where(User.id == second).with_for_update())
        merging = asyncio.ensure_future(
            client.post(PATH, json={**phone, **email}, headers=dev_headers)
        )
        await anyio.to_thread.run_sync(
            wait_for_lock_waits, runtime.db, 1, lambda: not merging.done(), merging.result
        )
        await anyio.to_thread.run_sync(
            other.execute, select(User.id).where(User.id == first).with_for_update()
        )
        other.rollback()
    answer = await merging

    assert answer.status_code == 202, answer.text
    with runtime.db.read() as session:
        assert session.scalars(select(User.id)).all() == [first]
