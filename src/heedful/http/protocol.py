"""`heedful serve`'s HTTP/1.1 protocol: uvicorn's (httptools), with deadlines for the client.

uvicorn times out an idle keep-alive connection only until its next byte, and a new one not at
all: a client that connected and sent nothing, or part of its request head (byte by byte if it
liked), held the socket and a file descriptor for ever, so a few thousand of them locked
everyone out (slowloris). Here:

- a connection must send a whole request head within `header_timeout` seconds of opening, or
  of the end of the previous request and its answer, however many bytes it sends meanwhile;
- the rest of a body the app answered without reading (a 401, a 413 by `Content-Length`) may
  pause no longer than `body_timeout` between pieces (it may be large, and is thrown away);

otherwise the connection is closed without an answer, as the keep-alive timeout closes one.
While the app reads a body, its own timeout applies (`heedful.http.operation.receive_within`),
which can answer 408 in heedful's error shape.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose client stalls between requests."""

    # Set per process by the app factory from HEEDFUL_HEADER_TIMEOUT_SECONDS and
    # HEEDFUL_BODY_TIMEOUT_SECONDS: uvicorn makes the protocol, and hands it nothing of heedful's.
    header_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 30.0

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._close_in(self.header_timeout)

    def on_headers_complete(self) -> None:
        self._cancel_deadline()  # the app has the request now
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._answered():  # more of a body nobody reads: it may go on, but not stall
            self._close_in(self.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._answered():  # that body has ended at last
            self._await_next_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Unless a pipelined request (whose head is in) is now being served, or the client is
        # still sending the answered request's body.
        if self.cycle.response_complete:
            if self.cycle.more_body:
                self._close_in(self.body_timeout)
            else:
                self._await_next_request()

    def handle_websocket_upgrade(self) -> None:
        self._cancel_deadline()  # the connection is the WebSocket protocol's now
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _answered(self) -> bool:
        """Whether the request being received has had its answer (no cycle: a WebSocket
        upgrade, the first request of its connection)."""
        return self.cycle is not None and self.cycle.response_complete

    def _await_next_request(self) -> None:
        # Bytes of the next head do not move this deadline (uvicorn's keep-alive timer stops
        # at the first one).
        self._close_in(self.header_timeout)

    def _close_in(self, seconds: float) -> None:
        self._cancel_deadline()
        if not self.transport.is_closing():
            self._deadline = self.loop.call_later(seconds, self._expired)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
