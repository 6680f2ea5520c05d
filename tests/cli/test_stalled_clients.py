"""A real `heedful serve` against clients that stall (slowloris): a connection must send its
request headers within HEEDFUL_HEADER_TIMEOUT_SECONDS (of opening, or of the previous answer),
and a body must not pause for longer than HEEDFUL_BODY_TIMEOUT_SECONDS (a 408). Otherwise a
few thousand idle sockets would hold every file descriptor the server has.

Raw sockets, one server for the module (its own SQLite file), with half-second timeouts.
"""

from __future__ import annotations

import json
import secrets
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.catalog.support import ndjson, product
from tests.cli.test_serve_process import child_env, free_port, running

TIMEOUT = 0.5
GRACE = 5.0  # on top of TIMEOUT: a busy machine may be slow to run the timer
TOKEN = f"ci-{secrets.token_urlsafe(24)}"
EVENT = json.dumps({"type": "Order Shipped", "user": {"phone": "+13115552368"}}).encode()


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    workdir = tmp_path_factory.mktemp("stalled")
    port = free_port()
    env = child_env(
        HEEDFUL_BOOTSTRAP_TOKEN=TOKEN,
        HEEDFUL_HEADER_TIMEOUT_SECONDS=str(TIMEOUT),
        HEEDFUL_BODY_TIMEOUT_SECONDS=str(TIMEOUT),
        HEEDFUL_RATE_LIMITS="off",
        HEEDFUL_LOG_LEVEL="WARNING",
    )
    database_url = f"sqlite:///{workdir / 'stalled.db'}"
    serve = ["serve", "--port", str(port), "--database-url", database_url, "--no-worker"]
    with running(serve, workdir=workdir, env=env, name="serve") as process:
        process.wait_until_healthy(f"http://127.0.0.1:{port}")
        yield port
        assert "Traceback" not in process.stderr, process.stderr


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT + GRACE)


def read_until_closed(sock: socket.socket, started: float) -> bytes:
    """Everything the server sends until it closes; a failure if it is still open after
    TIMEOUT + GRACE seconds from `started`."""
    received = b""
    while True:
        remaining = started + TIMEOUT + GRACE - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"still open {TIMEOUT + GRACE}s later; received {received!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One response (status, body) with a Content-Length, the connection left open."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or pytest.fail(f"closed mid-response: {data!r}")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536) or pytest.fail(f"closed mid-body: {body!r}")
    assert len(body) == length, "more than one response"
    return int(lines[0].split()[1]), body


def post_head(path: str, length: int, *, token: str = TOKEN) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    started = time.monotonic()
    with connect(port) as sock:
        assert read_until_closed(sock, started) == b""
    assert time.monotonic() - started >= TIMEOUT * 0.9


def test_a_connection_that_stops_inside_its_headers_is_closed(port: int) -> None:
    started = time.monotonic()
    with connect(port) as sock:
        sock.sendall(b"POST /v1/events/custom HTTP/1.1\r\nHost: x\r\n")
        assert read_until_closed(sock, started) == b""
    assert time.monotonic() - started >= TIMEOUT * 0.9


def test_headers_sent_a_byte_at_a_time_must_still_end_in_time(port: int) -> None:
    """The deadline is for the whole header block: a byte now and then does not move it."""
    started = time.monotonic()
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        while time.monotonic() - started < TIMEOUT + GRACE:
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                break
            readable, _, _ = select.select([sock], [], [], 0.05)
            if readable and sock.recv(65536) == b"":
                break
        else:
            pytest.fail(f"still open {TIMEOUT + GRACE}s later")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/events/custom",  # the ingestion lane
        "/v1/identity-resolution/user-identifiers",  # a Starlette route
        "/v1/authorization-codes/tokens",  # the public operation (no bearer token)
    ],
)
def test_a_body_that_stops_short_is_a_408_and_the_connection_closes(port: int, path: str) -> None:
    started = time.monotonic()
    with connect(port) as sock:
        sock.sendall(post_head(path, 100) + b"x" * 10)
        answer = read_until_closed(sock, started)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert b"\r\nconnection: close" in head.lower(), answer
    error = json.loads(body)["error"]
    assert error["message"].startswith("Request body not received in time"), error
    assert isinstance(error["id"], int)
    assert time.monotonic() - started >= TIMEOUT * 0.9


def test_a_body_answered_unread_may_not_stall_either(port: int) -> None:
    """A 401 answers before the body is read; the server reads the rest (to keep the
    connection), so that rest must keep coming too, and a next request is served after it."""
    with connect(port) as sock:
        sock.sendall(post_head("/v1/events/custom", 30, token="nope") + b"x" * 10)
        assert read_response(sock)[0] == 401
        time.sleep(TIMEOUT * 0.6)
        sock.sendall(b"x" * 20 + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[0] == 200

        sock.sendall(post_head("/v1/events/custom", 30, token="nope") + b"x" * 10)
        assert read_response(sock)[0] == 401
        time.sleep(TIMEOUT * 0.6)
        sock.sendall(b"x")  # and no more
        started = time.monotonic()
        assert read_until_closed(sock, started) == b""


def test_keep_alive_and_pipelining_are_unchanged(port: int) -> None:
    """Each request has its own deadline, from the previous answer: three requests spaced
    by most of a timeout each take longer than one timeout in all, and are all answered."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(port) as sock:
        for _ in range(3):
            sock.sendall(request)
            assert read_response(sock)[0] == 200
            time.sleep(TIMEOUT * 0.6)
        sock.sendall(request * 2 + post_head("/v1/events/custom", len(EVENT)) + EVENT)
        assert [read_response(sock)[0] for _ in range(3)] == [200, 200, 200]


def test_a_body_sent_in_pieces_with_short_pauses_is_taken(port: int) -> None:
    """The body timeout is between pieces: a body slower in all than the timeout is fine."""
    with connect(port) as sock:
        sock.sendall(post_head("/v1/events/custom", len(EVENT)))
        for piece in (EVENT[:10], EVENT[10:20], EVENT[20:]):
            time.sleep(TIMEOUT * 0.5)
            sock.sendall(piece)
        assert read_response(sock) == (200, b"{}")


def test_a_catalog_upload_that_streams_steadily_is_stored(port: int) -> None:
    base_url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    started = httpx.post(f"{base_url}/v1/product-catalog/uploads", json={}, headers=headers)
    assert started.status_code == 200, started.text
    url = httpx.URL(started.json()["uploadUrl"])
    body = ndjson([product(n) for n in range(1, 41)])
    pieces = [body[i : i + len(body) // 6 + 1] for i in range(0, len(body), len(body) // 6 + 1)]
    with connect(port) as sock:
        sock.sendall(
            f"PUT {url.raw_path.decode()} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        for piece in pieces:  # about 3 timeouts in all
            time.sleep(TIMEOUT * 0.5)
            sock.sendall(piece)
        assert read_response(sock)[0] == 200


def test_a_catalog_upload_that_stalls_is_a_408(port: int) -> None:
    base_url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    started = httpx.post(f"{base_url}/v1/product-catalog/uploads", json={}, headers=headers)
    url = httpx.URL(started.json()["uploadUrl"])
    begun = time.monotonic()
    with connect(port) as sock:
        sock.sendall(
            f"PUT {url.raw_path.decode()} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
            "{".encode()
        )
        answer = read_until_closed(sock, begun)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    state = httpx.get(
        f"{base_url}/v1/product-catalog/uploads/{started.json()['uploadId']}", headers=headers
    )
    assert state.json()["status"] == "initialized", state.text  # the file was not taken
