"""Infer requests answered without the ASGI cycle: the connection hands the request's method,
path, headers and body straight to `App.respond` and writes its answer in one send.

For a small model most of a request's time was the ASGI machinery around the model: uvicorn's
scope and URL parse, a request-response cycle with its event, the proxy-headers middleware,
`receive` and two `send` messages with their header checks. Only the plain case takes this path
(`fast_request`: POST to a served model's infer endpoint, HTTP/1.1, a Content-Length body small
enough to parse on the event loop, no `Expect`, no access log); everything else, and every rule
of what to answer (guards, routing, limits, errors, metrics, CORS), stays in `App.respond`, which
both paths call. The response is serialised as uvicorn's `send` would: its default headers
(`date`, `server`) first, then the app's, `connection: close` when the connection ends.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from netlang.serve.app import App

log = logging.getLogger("netlang.serve")
Headers = list[tuple[bytes, bytes]]


def served_app(app: Any) -> App | None:
    """The netlang App under uvicorn's proxy-headers middleware (which only rewrites the scope's
    client and scheme, which the app never reads); None under any other wrapper."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from netlang.serve.app import App

    while isinstance(app, ProxyHeadersMiddleware):
        app = app.app
    return app if isinstance(app, App) else None


def fast_request(protocol: HttpToolsProtocol, app: App) -> str | None:
    """The path of the request whose head `protocol` just parsed, if the fast path may answer
    it; None sends it down the ASGI cycle."""
    parser, url = protocol.parser, protocol.url
    if (
        protocol.expect_100_continue
        or parser.get_method() != b"POST"
        or parser.get_http_version() != "1.1"
        or parser.should_upgrade()
        or not url.startswith(b"/v2/models/")
        or not url.isascii()
        or b"?" in url
        or b"%" in url
        or protocol.root_path
    ):
        return None
    limit = protocol.limit_concurrency
    if limit is not None and (len(protocol.connections) >= limit or len(protocol.tasks) >= limit):
        return None  # uvicorn's cycle answers its 503
    length = None
    for name, value in protocol.headers:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            length = value
    if length is None or not length.isdigit() or int(length) > app.fast_body_bytes:
        return None
    path = url.decode("ascii")
    return path if app.infer_route("POST", path) is not None else None


class FastCycle:
    """One request on the fast path, with the attributes uvicorn's protocol reads and writes on
    its current cycle: it appends the body, clears `more_body` at the message's end, sets
    `disconnected`, and calls `message_event.set()` after each (here: `set`), queues the cycle
    behind an unanswered one (pipelining) and starts it through `_start_asgi_task` (`start`)."""

    __slots__ = (
        "_app",
        "_protocol",
        "_path",
        "_headers",
        "_started",
        "body",
        "more_body",
        "keep_alive",
        "disconnected",
        "response_started",
        "response_complete",
        "message_event",
    )

    def __init__(self, protocol: HttpToolsProtocol, app: App, path: str) -> None:
        self._app = app
        self._protocol = protocol
        self._path = path
        self._headers: Headers = protocol.headers
        self._started = False
        self.body = bytearray()
        self.more_body = True
        self.keep_alive = protocol.parser.should_keep_alive()
        self.disconnected = False
        self.response_started = False
        self.response_complete = False
        self.message_event = self  # uvicorn signals through `message_event.set()`

    def start(self) -> None:
        """Its turn on the connection has come (at once, or after the previous response)."""
        self._started = True
        self.set()

    def set(self) -> None:
        """Something arrived: more body (read on: uvicorn pauses reading past 64 KiB of body,
        and the ASGI cycle's `receive` resumes it), the body's end, or the client's leaving."""
        if not self._started or self.response_started:
            return
        if self.more_body and not self.disconnected:
            self._protocol.flow.resume_reading()
            return
        self.response_started = True  # (the answer is on its way: set once)
        protocol = self._protocol
        task = protocol.loop.create_task(self._answer())
        task.add_done_callback(protocol.tasks.discard)
        protocol.tasks.add(task)

    async def _receive(self) -> dict[str, Any]:
        if self.disconnected:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": bytes(self.body), "more_body": False}

    async def _answer(self) -> None:
        protocol = self._protocol
        try:
            status, headers, body = await self._app.respond(
                "POST", self._path, self._headers, self._receive
            )
            if protocol.flow.write_paused and not self.disconnected:
                await protocol.flow.drain()
            if self.disconnected:
                return
            response, self.keep_alive = serialise(
                status, protocol.server_state.default_headers + headers, body, self.keep_alive
            )
            protocol.transport.write(response)
        except Exception:  # noqa: BLE001 - a bug here must not leave the client waiting
            log.exception("answering an infer request failed")
            protocol.transport.close()
            return
        self.response_complete = True
        if not self.keep_alive:
            protocol.transport.close()
        protocol.on_response_complete()


def serialise(status: int, headers: Headers, body: bytes, keep_alive: bool) -> tuple[bytes, bool]:
    """A response as uvicorn's `send` writes it (Content-Length given, so never chunked), and
    whether the connection stays open after it."""
    parts = [STATUS_LINE[status]]
    closing = False
    for name, value in headers:
        if name == b"connection" and b"close" in [t.strip().lower() for t in value.split(b",")]:
            closing = True
        parts += (name, b": ", value, b"\r\n")
    if not keep_alive and not closing:
        parts.append(b"connection: close\r\n")
    parts += (b"\r\n", body)
    return b"".join(parts), keep_alive and not closing
