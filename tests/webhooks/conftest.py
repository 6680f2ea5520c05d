"""Fixtures: a real receiver on 127.0.0.1, a dispatcher with a fast retry schedule, tenants."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from heedful.runtime import Runtime
from heedful.webhooks.dispatcher import DeliveryPolicy, Dispatcher
from tests.webhooks.receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def policy() -> DeliveryPolicy:
    """Development mode (loopback allowed), short timeout, retries 10 s, 20 s, 40 s, ...
    within a one-hour window; no auto-disable unless a test asks for it."""
    return DeliveryPolicy(
        timeout=0.5,
        retry_base=10.0,
        retry_factor=2.0,
        retry_cap=600.0,
        retry_window=3600.0,
        disable_after_failures=1000,
        disable_after_seconds=0.0,
        development=True,
    )


@pytest.fixture
def dispatcher(runtime: Runtime, policy: DeliveryPolicy) -> Dispatcher:
    return Dispatcher(runtime.db, runtime.clock, policy, rng=random.Random(7))
