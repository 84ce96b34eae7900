"""HTTP/1.1 connections: uvicorn's httptools protocol with read deadlines, a head-size limit and
JSON framing errors.

httptools (llhttp, in C) parses a request in a fraction of what h11 (pure Python) costs, which
for small models is most of a request's time. uvicorn times out only idle keep-alive
connections: a client that sends half a request head, or a body shorter than its
Content-Length, would hold its connection (and a file descriptor) forever, and a few hundred
such clients stop the server. Here each connection has a deadline for the part of the request
the client is sending: its head must be complete within `header_timeout_s` of the connection
opening (on a kept-alive connection: of the head's first byte; the idle time between requests is
uvicorn's keep-alive timeout), its body within `body_timeout_s` of the head. A client past its
deadline gets a 408 (when no response is on its way) and the connection closes. llhttp has no
limit on a head's size, so a head still incomplete past `MAX_HEAD_BYTES` gets a 431; requests
it cannot parse get the protocol's JSON error instead of uvicorn's plain text, and are logged at
debug level, not as uvicorn's warning per request: a client sending garbage must not be able to
fill the server's log (or block it on a stderr pipe nobody drains).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from netlang.serve.fast_path import FastCycle, fast_request, served_app

log = logging.getLogger("netlang.serve")
MAX_HEAD_BYTES = 16 * 1024  # a request head still incomplete past this gets a 431
# the part of a request the client is sending, or "idle" between requests (keep-alive)
Phase = Literal["headers", "body", "idle"] | None


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0


class _ParserErrorsAtDebug(logging.Filter):
    """Drops uvicorn's per-request "Invalid HTTP request received." warning (the client's
    mistake, answered with a 400); `send_400_response` logs it at debug instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Invalid HTTP request received."


_QUIET = _ParserErrorsAtDebug()


def _raw_response(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _OneWrite:
    """A response's transport that holds its head until the body's first bytes, so that both
    leave in one system call and one TCP segment (uvicorn writes them apart, and for a small
    model the second send was a large part of a request's cost)."""

    __slots__ = ("_transport", "_cycle", "_head", "_held")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._held = False  # the head was held (once: later writes go straight out)

    def write(self, data: bytes) -> None:
        head, self._head = self._head, None
        if head is not None:
            self._transport.writelines([head, data])
        elif self._cycle.response_started and not self._held:
            self._head, self._held = data, True  # (a 100 Continue goes out before the start)
        else:
            self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            self.write(b"")
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class GuardedProtocol(HttpToolsProtocol):
    """HttpToolsProtocol plus a deadline per request phase (head, body), a limit on the head's
    size and JSON 4xx framing errors. The phase follows llhttp's callbacks: a message begins
    (head), its head completes (body), it completes (none: the app is answering)."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger.addFilter(_QUIET)  # once: a logger keeps one copy of a filter
        self.limits = limits
        self._phase: Phase = None
        self._due: float | None = None  # the loop time at which the phase's deadline passes
        # one timer per connection, not one per phase: re-armed only when it fires, so it may fire
        # before the deadline (then it waits again) but never after (see `_enter`)
        self._timer: asyncio.TimerHandle | None = None
        self._tick = min(limits.header_timeout_s, limits.body_timeout_s, self.timeout_keep_alive)
        self._begun = False  # a request's first byte has arrived (else an idle connection)
        self._head_bytes = 0  # bytes fed while a head was incomplete
        # infer requests skip the ASGI cycle (`fast_path.py`), unless each must be logged
        self._fast_app = None if self.access_log else served_app(self.app)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter("headers")  # the first head's deadline runs from the connection opening

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._phase != "headers" or not self._begun or self.transport.is_closing():
            self._head_bytes = 0
            return
        # a head is still incomplete, so all of `data` was head (or the end of a previous request
        # in the same packet, which only makes the limit a little stricter)
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            message = f"the request head exceeds {MAX_HEAD_BYTES} bytes"
            self._refuse(431, "Request Header Fields Too Large", message)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        self._enter("headers")

    def on_headers_complete(self) -> None:
        app = self._fast_app
        path = fast_request(self, app) if app is not None else None
        if app is not None and path is not None:
            previous, cycle = self.cycle, FastCycle(self, app, path)
            self.cycle = cycle  # type: ignore[assignment]
            if previous is None or previous.response_complete:
                cycle.start()
            else:  # pipelined behind an unanswered request, as uvicorn queues its cycles
                self.flow.pause_reading()
                self.pipeline.appendleft((cycle, app))  # type: ignore[arg-type]
        else:
            previous = self.cycle
            super().on_headers_complete()
            # (not for HEAD: uvicorn writes no body then, so a held head would never leave)
            if self.cycle is not previous and self.cycle.scope["method"] != "HEAD":
                self.cycle.transport = _OneWrite(self.transport, self.cycle)  # type: ignore[assignment]
        self._enter("body")

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """Start a queued request's answer, on whichever path it came."""
        if isinstance(cycle, FastCycle):
            cycle.start()
        else:
            super()._start_asgi_task(cycle, app)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._begun = False
        # the app is answering (the keep-alive deadline follows its response), or it answered
        # before the body's end (a 413 on a declared size): then the connection is idle now
        cycle = self.cycle
        answered = cycle is not None and cycle.response_complete and not self.pipeline
        self._enter("idle" if answered else None)

    def on_response_complete(self) -> None:
        """uvicorn's, but the keep-alive timeout is the idle phase's deadline on the connection's
        one timer, not a timer armed after each response and cancelled by the next request."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self._phase is None:  # (not when the next head has begun arriving)
            self._enter("idle")

    def connection_lost(self, exc: Exception | None) -> None:
        self._enter(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """llhttp could not parse the request: answer with the protocol's JSON error."""
        log.debug("answering a request llhttp could not parse with 400: %s", msg)
        self._refuse(400, "Bad Request", "malformed HTTP request (request line or headers)")

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answer outside uvicorn's request cycle (there may be none yet) and close."""
        self._enter(None)
        self.transport.write(_raw_response(status, reason, message))
        self.transport.close()

    def _enter(self, phase: Phase) -> None:
        """Start the deadline of `phase` unless it is already running (a head's deadline runs
        from its first byte, or from the connection opening, whichever came later). Requests
        change phase three times each, so this only moves `_due`: the timer, armed for at most
        `_tick` (the shorter deadline), fires no later than any deadline set after arming it."""
        if phase == self._phase and (phase is None or self._due is not None):
            return
        self._phase = phase
        if phase is None or self.transport.is_closing():
            self._due = None
            return
        self._due = self.loop.time() + self._timeout(phase)
        if self._timer is None:
            self._timer = self.loop.call_later(self._tick, self._check)

    def _timeout(self, phase: Phase) -> float:
        if phase == "idle":
            return self.timeout_keep_alive
        return self.limits.header_timeout_s if phase == "headers" else self.limits.body_timeout_s

    def _check(self) -> None:
        self._timer = None
        if self._due is None or self.transport.is_closing():
            return  # no phase running: the next one arms the timer again
        remaining = self._due - self.loop.time()
        if remaining > 0:
            self._timer = self.loop.call_later(min(remaining, self._tick), self._check)
        else:
            self._expire()

    def _expire(self) -> None:
        phase, self._phase, self._due = self._phase, None, None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete
        # a head: no cycle of its own yet, so any unfinished cycle is a previous request's
        in_flight = answering and (phase == "headers" or cycle.response_started)
        log.debug("closing a connection whose request %s did not arrive in time", phase)
        if self._begun and not in_flight:
            limit = self._timeout(phase)
            self._refuse(
                408, "Request Timeout", f"the request {phase} did not arrive within {limit:g} s"
            )
        else:  # an idle connection (keep-alive timeout), or a response is already on its way
            self.transport.close()
