"""Fixtures: rate limits off, a worker for the message jobs, a real webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heedful.config import Settings
from heedful.runtime import Runtime
from heedful.webhooks.dispatcher import Dispatcher
from tests.webhooks.receiver import Receiver, make_dispatcher, running_receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Subscribe allows 10 calls a second per token; tests make more (tests/http covers it)."""
    return settings.model_copy(update={"rate_limits": "off"})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def dispatcher(runtime: Runtime) -> Dispatcher:
    return make_dispatcher(runtime)
