"""HTTP/1.1 connections: uvicorn's h11 protocol with read deadlines and JSON framing errors.

uvicorn times out only idle keep-alive connections: a client that sends half a request head, or
a body shorter than its Content-Length, holds its connection (and a file descriptor) forever, and
a few hundred such clients stop the server. Here each connection has a deadline for the part of
the request the client is sending: its head must be complete within `header_timeout_s` of the
connection opening (on a kept-alive connection: of the head's first byte; the idle time between
requests is uvicorn's keep-alive timeout), its body within `body_timeout_s` of the head.
A client past its deadline gets a 408 (when no response has started) and the connection closes.
Requests that h11 cannot parse get the protocol's JSON error instead of uvicorn's plain text.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("netlang.serve")
MAX_HEAD_BYTES = 16 * 1024  # h11's limit on a request head that is still incomplete


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0


def _raw_response(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """H11Protocol plus a deadline per request phase (head, body) and JSON 4xx framing errors."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: Any = None  # h11.IDLE (reading a head) or h11.SEND_BODY, that _deadline is for

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm()  # idle now: uvicorn's keep-alive timer runs until the next byte comes
        if self.conn.trailing_data[0] or self.conn.their_state is not h11.IDLE:
            self._arm()  # a pipelined request is already on its way

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """h11 could not parse the request: answer with the protocol's JSON error."""
        if len(self.conn.trailing_data[0]) > MAX_HEAD_BYTES:
            self._refuse(
                431,
                "Request Header Fields Too Large",
                f"the request head exceeds {MAX_HEAD_BYTES} bytes",
            )
        else:
            self._refuse(400, "Bad Request", "malformed HTTP request (request line or headers)")

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answer outside h11 (its state may be ERROR, or before any request) and close."""
        self.transport.write(_raw_response(status, reason, message))
        self.transport.close()

    def _arm(self) -> None:
        """Start the deadline of the phase the client is in, unless it is already running."""
        state = self.conn.their_state
        phase = state if state in (h11.IDLE, h11.SEND_BODY) else None
        if self.transport.is_closing():
            phase = None
        if phase is self._phase:
            return
        self._disarm()
        self._phase = phase
        if phase is not None:
            limits = self.limits
            timeout = limits.header_timeout_s if phase is h11.IDLE else limits.body_timeout_s
            self._deadline = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._phase = None, None

    def _expire(self) -> None:
        phase = "headers" if self._phase is h11.IDLE else "body"
        self._deadline, self._phase = None, None
        if self.transport.is_closing():
            return
        started = bool(self.conn.trailing_data[0]) or self.conn.their_state is not h11.IDLE
        log.debug("closing a connection whose request %s did not arrive in time", phase)
        if started and self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            limit = (
                self.limits.header_timeout_s if phase == "headers" else self.limits.body_timeout_s
            )
            self._refuse(
                408, "Request Timeout", f"the request {phase} did not arrive within {limit:g} s"
            )
        else:  # an idle keep-alive connection, or a response is already on its way
            self.transport.close()
