"""Request guards, checked before routing: header limits, the Host header (DNS rebinding, on a
loopback-bound server), the browser Origin with its CORS answers, and the bearer token.

Each refusal is a `ServeError`, so it reaches the client as the protocol's JSON error. A browser
only lets a page read a cross-origin answer that carries `Access-Control-Allow-Origin`, so every
response to an allowed origin gets the CORS headers, refusals included, and a preflight `OPTIONS`
(which never carries credentials) is answered before the token is asked for.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from netlang.serve.protocol import ServeError

Headers = list[tuple[bytes, bytes]]

MAX_HEADERS = 100  # what Triton's HTTP library (evhtp) and nginx also allow, roughly
MAX_HEADER_BYTES = 16 * 1024  # all names and values together (connection.MAX_HEAD_BYTES)
CORS_METHODS = b"GET, POST, OPTIONS"
CORS_REQUEST_HEADERS = (
    b"authorization, content-type, content-encoding, inference-header-content-length"
)
CORS_EXPOSED_HEADERS = b"inference-header-content-length"
CORS_MAX_AGE_S = b"600"


@functools.lru_cache(maxsize=256)  # asked for every request's Host; clients send the same few
def is_loopback(host: str) -> bool:
    """`localhost`, any 127.0.0.0/8 address or ::1 (brackets and zone allowed)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def read_token(path: str | Path) -> bytes:
    """The bearer token in `path`: one word of printable ASCII, as an HTTP header can carry it."""
    raw = Path(path).read_bytes().strip()
    if not raw:
        raise ValueError(f"the token file {path} is empty; it must hold one token")
    if not all(0x21 <= b <= 0x7E for b in raw):
        raise ValueError(
            f"the token file {path} must hold one token of printable ASCII characters without "
            "spaces (HTTP headers carry bytes, so any other token could never be matched)"
        )
    return raw


@dataclass(frozen=True, slots=True)
class Guards:
    max_body_bytes: int = 64 * 1024 * 1024  # Triton's default --http-max-input-size
    token: bytes | None = None
    allow_origins: frozenset[str] = frozenset()
    loopback_only: bool = False  # the Host header must name a loopback address

    def check_header_limits(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        count = size = 0
        for name, value in raw:
            count += 1
            size += len(name) + len(value)
        if count > MAX_HEADERS or size > MAX_HEADER_BYTES:
            raise ServeError(
                431,
                f"request headers too large ({count} headers, {size} bytes; the limits are "
                f"{MAX_HEADERS} headers and {MAX_HEADER_BYTES} bytes)",
                (("connection", "close"),),
            )

    def check_host(self, host: str) -> None:
        if not self.loopback_only:
            return
        if host.startswith("["):
            hostname = host[1:].split("]", 1)[0]
        else:
            hostname = host.rsplit(":", 1)[0]
        if not is_loopback(hostname):
            raise ServeError(403, "Host header not allowed for a loopback-bound server")

    def check_origin(self, origin: str | None) -> None:
        if origin is not None and origin not in self.allow_origins:
            raise ServeError(403, "browser cross-origin requests are refused (see --allow-origin)")

    def check_token(self, authorization: str) -> None:
        if self.token is None:
            return
        scheme, _, given = authorization.partition(" ")
        # header values arrive as latin-1 text: back to their bytes, so any byte can be compared
        given_bytes = given.strip().encode("latin-1")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given_bytes, self.token):
            raise ServeError(401, "missing or wrong bearer token")

    def cors_headers(self, origin: str | None) -> Headers:
        """What a response to `origin` carries so that the page may read it (nothing if the
        origin is absent or not allowed)."""
        if origin is None or origin not in self.allow_origins:
            return []
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", CORS_EXPOSED_HEADERS),
            (b"vary", b"origin"),
        ]


def preflight_headers() -> Headers:
    """The answer to a CORS preflight from an allowed origin (or to a plain OPTIONS)."""
    return [
        (b"allow", CORS_METHODS),
        (b"access-control-allow-methods", CORS_METHODS),
        (b"access-control-allow-headers", CORS_REQUEST_HEADERS),
        (b"access-control-max-age", CORS_MAX_AGE_S),
    ]
