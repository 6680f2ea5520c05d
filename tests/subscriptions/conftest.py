"""Fixtures: rate limits off, a worker for the message jobs, a real webhook receiver."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from heedful.config import Settings
from heedful.runtime import Runtime
from heedful.webhooks.dispatcher import DeliveryPolicy, Dispatcher
from tests.webhooks.receiver import Receiver, ReceiverServer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Subscribe allows 10 calls a second per token; tests make more (tests/http covers it)."""
    return settings.model_copy(update={"rate_limits": "off"})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ReceiverServer(Receiver())
    server.start()
    try:
        yield server.receiver
    finally:
        server.stop()


@pytest.fixture
def dispatcher(runtime: Runtime) -> Dispatcher:
    policy = DeliveryPolicy(
        timeout=2.0,
        retry_base=10.0,
        retry_factor=2.0,
        retry_cap=600.0,
        retry_window=3600.0,
        disable_after_failures=1000,
        disable_after_seconds=0.0,
        development=True,
    )
    return Dispatcher(runtime.db, runtime.clock, policy, rng=random.Random(7))
