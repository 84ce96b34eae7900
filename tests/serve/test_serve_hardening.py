"""A real `netlang serve` under hostile clients, spoken to over raw sockets: non-ASCII tokens,
CORS preflights, broken framing, oversized heads, non-finite numbers and slow clients. Each gets
the protocol's JSON error (or is dropped at its deadline) while other clients are served."""

from __future__ import annotations

import http.client
import inspect
import json
import os
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest
import uvicorn

from tests.serve.servers import Server, start_server

pytestmark = pytest.mark.slow

INFER = "/v2/models/clf/infer"
BODY = json.dumps(
    {"inputs": [{"name": "input", "shape": [1, 8], "datatype": "FP32", "data": [0.5] * 8}]}
).encode()
TOKEN = "s3cret-token"
ORIGIN = "http://ok.example"


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    token_file = tmp_path_factory.mktemp("secret") / "token"
    token_file.write_text(TOKEN + "\n")
    server = start_server(
        [
            str(model_dir / "clf.onnx"),
            "--token-file",
            str(token_file),
            "--allow-origin",
            ORIGIN,
            "--header-timeout",
            "1",
            "--body-timeout",
            "1",
        ]
    )
    yield server
    server.stop()


def exchange(port: int, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one response: (status, lower-case headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, body


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def authorized_infer_works(server: Server) -> bool:
    status, _, body = exchange(
        server.port, http_request("POST", INFER, {"Authorization": f"Bearer {TOKEN}"}, BODY)
    )
    return status == 200 and json.loads(body)["outputs"][0]["shape"] == [1, 3]


def test_a_non_ascii_bearer_token_gets_401_not_500(server: Server) -> None:
    head = http_request("GET", "/v2", {}).replace(b"\r\n\r\n", b"\r\n")
    data = head + "Authorization: Bearer sécret-tökën\r\n\r\n".encode()
    status, headers, body = exchange(server.port, data)
    assert status == 401 and "bearer token" in json.loads(body)["error"]
    assert authorized_infer_works(server)


def test_a_preflight_from_an_allowed_origin_gets_204_without_the_token(server: Server) -> None:
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    status, headers, body = exchange(server.port, http_request("OPTIONS", INFER, preflight))
    assert status == 204 and body == b""
    assert headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in headers["access-control-allow-methods"]
    assert "authorization" in headers["access-control-allow-headers"]
    other = {**preflight, "Origin": "http://bad.example"}
    status, headers, _ = exchange(server.port, http_request("OPTIONS", INFER, other))
    assert status == 403 and "access-control-allow-origin" not in headers


def test_responses_to_an_allowed_origin_carry_allow_origin_errors_included(server: Server) -> None:
    auth = {"Origin": ORIGIN, "Authorization": f"Bearer {TOKEN}"}
    status, headers, _ = exchange(server.port, http_request("POST", INFER, auth, BODY))
    assert status == 200 and headers["access-control-allow-origin"] == ORIGIN
    status, headers, _ = exchange(server.port, http_request("POST", INFER, {"Origin": ORIGIN}))
    assert status == 401 and headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize(
    ("data", "want_status", "want_text"),
    [
        (b"GARBAGE\r\n\r\n", 400, "malformed HTTP"),
        (b"GET /v2 HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", 400, "malformed HTTP"),
        ("GET /v2/é HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(), 400, "malformed HTTP"),
        (
            b"GET /v2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
            + b"\r\n",
            431,
            "",
        ),
        (b"GET /v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"v" * 100_000 + b"\r\n\r\n", 431, ""),
    ],
    ids=["garbage", "header without colon", "non-ascii target", "5000 headers", "100 KB header"],
)
def test_broken_framing_gets_a_json_error(
    server: Server, data: bytes, want_status: int, want_text: str
) -> None:
    status, headers, body = exchange(server.port, data)
    assert status == want_status
    assert headers["content-type"] == "application/json"
    assert want_text in json.loads(body)["error"]
    assert authorized_infer_works(server)


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_inputs_get_400_over_http(server: Server, number: bytes) -> None:
    body = BODY.replace(b"0.5", number, 1)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, _, payload = exchange(server.port, http_request("POST", INFER, auth, body))
    assert status == 400 and set(json.loads(payload)) == {"error"}


def test_slow_clients_are_dropped_at_their_deadline_while_others_are_served(
    server: Server,
) -> None:
    def slow(data: bytes) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(data)
        return sock

    half_heads = [slow(b"POST /v2/models/clf/infer HTTP/1.1\r\nHost: 127.0") for _ in range(30)]
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Length": str(len(BODY))}
    short_body = http_request("POST", INFER, auth).replace(b"Content-Length: 0\r\n", b"")
    short_bodies = [slow(short_body + BODY[:10]) for _ in range(10)]
    silent = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(10)]
    started = time.monotonic()
    assert authorized_infer_works(server)
    assert time.monotonic() - started < 0.9  # served before any slow client's deadline
    for sock in half_heads + short_bodies:
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 408 and "did not arrive" in json.loads(response.read())["error"]
        assert sock.recv(1) == b""  # and closed
        sock.close()
    for sock in silent:
        assert sock.recv(1) == b""  # an idle connection is closed without a word
        sock.close()
    assert time.monotonic() - started < 5
    assert authorized_infer_works(server)


def test_a_head_still_incomplete_past_16_kib_gets_431_before_its_deadline(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        started = time.monotonic()
        try:
            for _ in range(20):  # 1 KiB at a time, never ending the header
                sock.sendall(b"v" * 1024)
                time.sleep(0.01)
        except OSError:  # the server may close while the client still writes
            pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 431 and "16384 bytes" in json.loads(response.read())["error"]
        assert time.monotonic() - started < 0.9  # the head's limit, not its 1 s deadline
    assert authorized_infer_works(server)


@dataclass
class OneStream:
    """A socket's one buffered reader for several responses in a row: HTTPResponse opens a
    reader of its own on a socket (which may swallow the next response) and closes it."""

    file: BinaryIO

    def makefile(self, mode: str) -> OneStream:
        return self

    def readline(self, limit: int = -1) -> bytes:
        return self.file.readline(limit)

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def readinto(self, buffer: bytearray) -> int:
        return self.file.readinto(buffer)  # type: ignore[attr-defined]

    def close(self) -> None:
        """The next response still reads from it."""


def test_pipelined_requests_are_answered_in_order(server: Server) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    requests = [http_request("GET", "/v2/health/live", {}), http_request("POST", INFER, auth, BODY)]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"".join(requests * 2))
        stream = OneStream(sock.makefile("rb"))  # answers may arrive in one read
        answers = []
        for _ in range(4):
            response = http.client.HTTPResponse(stream)  # type: ignore[arg-type]
            response.begin()
            answers.append((response.status, json.loads(response.read())))
    assert [status for status, _ in answers] == [200] * 4
    assert answers[0][1] == answers[2][1] == {"live": True}
    assert answers[1][1]["outputs"][0]["shape"] == answers[3][1]["outputs"][0]["shape"] == [1, 3]


def test_broken_requests_are_answered_without_filling_the_log(server: Server) -> None:
    # uvicorn would log a 41-byte warning for each: 1,600 are more than a pipe holds (64 KiB),
    # so a client sending garbage could fill the log, or block a server whose stderr nobody reads
    logged = os.fstat(server.log.fileno()).st_size
    for _ in range(1600):
        assert exchange(server.port, b"GARBAGE\r\n\r\n")[0] == 400
    assert os.fstat(server.log.fileno()).st_size - logged < 1024
    assert authorized_infer_works(server)


def test_an_idle_keep_alive_connection_closes_at_uvicorns_timeout_and_a_busy_one_stays(
    server: Server,
) -> None:
    keep_alive_s = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    request = http_request("POST", INFER, {"Authorization": f"Bearer {TOKEN}"}, BODY)

    def answered(sock: socket.socket) -> bool:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status == 200 and bool(response.read())

    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=30) as idle,
        socket.create_connection(("127.0.0.1", server.port), timeout=30) as busy,
    ):
        assert answered(idle) and answered(busy)
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < keep_alive_s + 1.5:  # busy past it
            if elapsed < keep_alive_s - 0.5:  # nothing to read yet: the idle one is still open
                assert select.select([idle], [], [], 0)[0] == []
            time.sleep(0.5)
            assert answered(busy)
        assert idle.recv(1) == b""  # closed without a word


def test_a_connection_answered_before_its_body_ended_is_idle_once_the_body_has_arrived(
    model_dir: Path,
) -> None:
    keep_alive_s = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    small = start_server([str(model_dir / "clf.onnx"), "--max-body-bytes", "64"])
    try:
        with socket.create_connection(("127.0.0.1", small.port), timeout=30) as sock:
            body = b"x" * 1000
            sock.sendall(http_request("POST", INFER, {}, body)[: -len(body)])
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 413 and json.loads(response.read())["error"]
            sock.sendall(body)  # the rest, which the server ignores: then nothing more
            started = time.monotonic()
            assert sock.recv(1) == b""  # closed at the keep-alive timeout, not held forever
            assert keep_alive_s - 0.5 < time.monotonic() - started < keep_alive_s + 3
    finally:
        small.stop()
