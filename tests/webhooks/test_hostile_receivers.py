"""Deliveries against hostile or broken receivers: real sockets on 127.0.0.1, and (where a
real one cannot be had without root) a name server that never answers, emulated at
`socket.getaddrinfo`, the call the system resolver is reached through."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from heedful.runtime import Runtime
from heedful.webhooks.dispatcher import Dispatcher
from heedful.webhooks.payloads import Subscriber
from tests.factories import make_company
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import attempts, deliveries, emit, make_webhook
from tests.webhooks.test_payloads import CASES

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


class RawReceiver:
    """A listening socket on 127.0.0.1 whose `answer` writes raw bytes back, each connection
    on its own thread, after reading the request (headers and `Content-Length` body)."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/raw") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append(data)
            self.answer(conn)

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def raw_receiver(answer: Callable[[socket.socket], None]) -> Iterator[RawReceiver]:
    server = RawReceiver(answer)
    try:
        yield server
    finally:
        server.close()


def _trickle(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
    for _ in range(40):  # a byte every 50 ms: 2 s, past the policy's 0.5 s timeout
        conn.sendall(b"x")
        time.sleep(0.05)


def _cut_short(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab")  # then closes


@pytest.mark.parametrize(
    ("answer", "error"),
    [(_trickle, "timed out after 0.5s"), (_cut_short, "ClientPayloadError")],
    ids=["trickled-past-the-timeout", "closed-mid-body"],
)
def test_a_2xx_whose_answer_does_not_complete_is_a_failed_attempt(
    runtime: Runtime,
    dispatcher: Dispatcher,
    answer: Callable[[socket.socket], None],
    error: str,
) -> None:
    """The attempt was recorded as succeeded (and the delivery finished) while its error said
    it timed out or broke off: the timeout covers the whole exchange, answer included."""
    company = make_company(runtime)
    with raw_receiver(answer) as server:
        make_webhook(runtime, company.id, server.url())
        emit(runtime, company.id)
        dispatcher.run_once()
        assert len(server.requests) == 1

    [attempt] = attempts(runtime)
    assert attempt.status_code == 200
    assert attempt.error is not None and attempt.error.startswith(error)
    assert not attempt.succeeded
    [delivery] = deliveries(runtime)
    assert delivery.state == "pending" and delivery.next_attempt_at is not None


@pytest.mark.parametrize(("event_type", "parts"), [c[:2] for c in CASES], ids=[c[0] for c in CASES])
def test_every_event_type_is_signed_over_the_exact_bytes_sent(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, event_type: str, parts: Any
) -> None:
    """Checked by the receiver's own HMAC code, on bodies holding non-ASCII text (sent as raw
    UTF-8, so a signature over another encoding of the same JSON would not match)."""
    company = make_company(runtime, "Café «Ivy» ☕ \u2028 </script>")
    hook = make_webhook(runtime, company.id, receiver.url("/signed"), events=[event_type])
    receiver.expect_key("/signed", hook.signing_key)
    subscriber = Subscriber(external_id=1, phone="+15555555555", email="zoë@example.com")

    assert emit(runtime, company.id, event_type, parts, subscriber=subscriber) == 1
    dispatcher.run_once()

    [got] = receiver.received("/signed")
    assert got.signature_valid
    expected = hmac.new(hook.signing_key.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-attentive-hmac-sha256"] == expected
    assert "Café «Ivy» ☕".encode() in got.body
    assert got.payload["type"] == event_type
    assert got.payload["company"]["display_name"] == "Café «Ivy» ☕ \u2028 </script>"
