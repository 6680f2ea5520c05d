"""Deliveries against hostile or broken receivers: real sockets on 127.0.0.1, and (where a
real one cannot be had without root) a name server that never answers, emulated at
`socket.getaddrinfo`, the call the system resolver is reached through."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from heedful.runtime import Runtime
from heedful.webhooks.dispatcher import Dispatcher
from tests.factories import make_company
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import deliveries, emit, make_webhook

BLACKHOLE = ".blackhole.test"


@pytest.fixture
def blackhole_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Names under `.blackhole.test` resolve only once the event is set (as a name server
    that never answers holds the resolver until its own timeout); other names resolve."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(BLACKHOLE):
            release.wait(10)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        yield release
    finally:
        release.set()


def test_names_that_never_resolve_hold_up_no_other_delivery(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, blackhole_dns: threading.Event
) -> None:
    """Resolving ran on the event loop's default thread pool (a few threads, shared with the
    dispatcher's database work): a few webhooks of one company on a name server that never
    answers took every thread, so another company's delivery timed out waiting for its own
    lookup, and the batch (asyncio.run) did not end until the hung lookups did."""
    hostile = make_company(runtime)
    for number in range(40):  # more than any default pool has threads
        make_webhook(runtime, hostile.id, f"http://h{number}{BLACKHOLE}:{receiver.port}/x")
    victim = make_company(runtime)
    make_webhook(runtime, victim.id, f"http://localhost:{receiver.port}/ok")
    emit(runtime, hostile.id)
    emit(runtime, victim.id)

    started = time.monotonic()
    assert dispatcher.run_once() == 41
    took = time.monotonic() - started

    assert len(receiver.received("/ok")) == 1
    states = [d.state for d in deliveries(runtime) if d.company_id == victim.id]
    assert states == ["succeeded"]
    assert took < 3  # the policy's timeout is 0.5 s; the hung lookups last 10 s
