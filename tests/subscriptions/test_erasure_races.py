"""Unsubscribe and inbound texts racing an erasure of the same subscriber.

Each race is played in a fixed order on PostgreSQL (see `tests.races`).
"""

from __future__ import annotations

import httpx
import msgspec
import pytest

from heedful.errors import NotFound
from heedful.identity import identifiers as ident
from heedful.identity import service as identity
from heedful.identity.identifiers import Identifier
from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.privacy import erasure
from heedful.runtime import Runtime
from heedful.subscriptions import admin, service
from heedful.subscriptions.schemas import UnsubscribeSubscriptionsRequestDto
from tests.races import Racer, eraser, race_erasure
from tests.subscriptions.support import PHONE, make_source, subscribe, subscriptions


def erase_phone(runtime: Runtime, company_id: int) -> Racer:
    return eraser(runtime, company_id, Identifier(ident.PHONE, PHONE))


@pytest.fixture
async def subscribed(
    client: httpx.AsyncClient, runtime: Runtime, dev: DevelopmentSetup, dev_headers: dict[str, str]
) -> int:
    """The phone's user, subscribed to MARKETING texts (single opt-in)."""
    source = make_source(runtime, dev.company.id, opt_in="single")
    assert (await subscribe(client, dev_headers, source, phone=PHONE)).status_code == 202
    with runtime.db.read() as session:
        user_id = identity.find_user(session, dev.company.id, Identifier(ident.PHONE, PHONE))
    assert user_id is not None
    return user_id


def assert_erased(eraser: Racer, runtime: Runtime) -> None:
    assert len(eraser.outcome) == 1 and isinstance(eraser.outcome[0], erasure.Report)
    assert eraser.outcome[0].users == 1
    assert subscriptions(runtime) == []


async def test_unsubscribe_racing_an_erasure_is_404_not_a_deadlock(
    runtime: Runtime, dev: DevelopmentSetup, subscribed: int
) -> None:
    """Erasure locks the user, then deletes its subscriptions; unsubscribe locked the
    subscriptions, then (inserting its consent record) waited for the user's key: on
    PostgreSQL a deadlock, and one of the two was aborted (the unsubscribe: a 500)."""
    company_id = dev.company.id
    body = msgspec.convert({"user": {"phone": PHONE}}, UnsubscribeSubscriptionsRequestDto)
    eraser = erase_phone(runtime, company_id)
    unsubscriber = Racer(
        runtime, lambda session: service.unsubscribe(session, runtime.clock, company_id, body)
    )

    race_erasure(runtime, company_id, subscribed, eraser, unsubscriber)

    assert_erased(eraser, runtime)
    assert len(unsubscriber.outcome) == 1
    assert isinstance(unsubscriber.outcome[0], NotFound), unsubscriber.outcome


async def test_inbound_text_racing_an_erasure_is_404_not_a_foreign_key_error(
    runtime: Runtime, dev: DevelopmentSetup, subscribed: int
) -> None:
    """The simulated carrier found the user, then recorded the text for it; on PostgreSQL the
    insert waited for the erasure holding the user and then broke its foreign key (a 500)."""
    eraser = erase_phone(runtime, dev.company.id)
    texter = Racer(
        runtime, lambda session: admin.receive_text(session, runtime.clock, PHONE, "STOP", None)
    )

    race_erasure(runtime, dev.company.id, subscribed, eraser, texter)

    assert_erased(eraser, runtime)
    assert len(texter.outcome) == 1
    assert isinstance(texter.outcome[0], NotFound), texter.outcome
