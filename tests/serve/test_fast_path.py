"""The connection's fast path for infer requests (`fast_path.py`) answers exactly as the ASGI
cycle does: the same requests, sent to a server that takes it and to one that cannot (`-v`: an
access log line per request keeps every request on the ASGI cycle), get byte-identical answers
(but the Date header), errors and pipelining included, and the two count the same metrics."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tests.serve.servers import Server, scrape, start_server

from netlang.serve.fast_path import fast_request

pytestmark = pytest.mark.slow

TOKEN = "fast-token"
ORIGIN = "http://ok.example"
X = np.arange(16, dtype=np.float32).reshape(2, 8) / 10


def binary_infer(request_id: str | None = "7", size_delta: int = 0) -> tuple[bytes, int]:
    blob = X.tobytes()
    header: dict = {
        "inputs": [
            {
                "name": "input",
                "shape": [2, 8],
                "datatype": "FP32",
                "parameters": {"binary_data_size": len(blob) + size_delta},
            }
        ],
        "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
    }
    if request_id is not None:
        header["id"] = request_id
    raw = json.dumps(header).encode()
    return raw + blob, len(raw)


def json_infer(**extra: object) -> bytes:
    tensor = {"name": "input", "shape": [2, 8], "datatype": "FP32", "data": X.ravel().tolist()}
    return json.dumps({"inputs": [tensor], **extra}).encode()


def request(
    body: bytes,
    path: str = "/v2/models/clf/infer",
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> bytes:
    fields = {"Host": "127.0.0.1", "Authorization": f"Bearer {TOKEN}"}
    fields.update(headers or {})
    lines = [f"{method} {path} HTTP/1.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in fields.items() if v]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


BINARY, BINARY_HEADER = binary_infer()
REQUESTS = {
    "binary": request(BINARY, headers={"Inference-Header-Content-Length": str(BINARY_HEADER)}),
    "binary, no id": request(
        binary_infer(None)[0],
        headers={"Inference-Header-Content-Length": str(binary_infer(None)[1])},
    ),
    "json": request(json_infer(id="j")),
    "versions form": request(json_infer(), "/v2/models/clf/versions/1/infer"),
    "classification": request(
        json_infer(outputs=[{"name": "logits", "parameters": {"classification": 2}}])
    ),
    "gzip body": request(gzip.compress(json_infer()), headers={"Content-Encoding": "gzip"}),
    "no token": request(json_infer(), headers={"Authorization": ""}),
    "wrong token": request(json_infer(), headers={"Authorization": "Bearer nope"}),
    "foreign Host": request(json_infer(), headers={"Host": "evil.example"}),
    "refused Origin": request(json_infer(), headers={"Origin": "http://evil.example"}),
    "allowed Origin": request(json_infer(), headers={"Origin": ORIGIN}),
    "malformed JSON": request(b'{"inputs": ['),
    "JSON booleans for FP32": request(
        json.dumps(
            {"inputs": [{"name": "input", "shape": [1, 8], "datatype": "FP32", "data": [True] * 8}]}
        ).encode()
    ),
    "unknown input": request(json.dumps({"inputs": [{"name": "nope"}]}).encode()),
    "short blob": request(
        binary_infer(size_delta=4)[0][:-4],
        headers={"Inference-Header-Content-Length": str(binary_infer(size_delta=4)[1])},
    ),
    "bad encoding": request(json_infer(), headers={"Content-Encoding": "br"}),
    "bad gzip": request(b"not gzip", headers={"Content-Encoding": "gzip"}),
    "too many headers": request(json_infer(), headers={f"X-{i}": "v" for i in range(101)}),
    "over the body limit": request(json_infer() + b" " * 5000),
    "unknown model": request(json_infer(), "/v2/models/nope/infer"),
    "unknown version": request(json_infer(), "/v2/models/clf/versions/2/infer"),
    "connection close": request(json_infer(), headers={"Connection": "close"}),
}


def answers(port: int, data: bytes, count: int = 1) -> list[tuple[bytes, bytes]]:
    """Send raw bytes, read `count` responses: (head without its Date line, body) each, and
    b"closed" as a last element's head if the server then closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        buffer, out = b"", []
        while len(out) < count:
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                assert chunk, (out, buffer)
                buffer += chunk
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            length = next(
                int(v)
                for k, _, v in (line.partition(b": ") for line in lines)
                if k.lower() == b"content-length"
            )
            while len(buffer) < length:
                buffer += sock.recv(65536)
            body, buffer = buffer[:length], buffer[length:]
            out.append(
                (b"\r\n".join(line for line in lines if not line.startswith(b"date:")), body)
            )
        sock.settimeout(0.2)
        try:
            if sock.recv(1) == b"":
                out.append((b"closed", b""))
        except TimeoutError:
            pass
    return out


@pytest.fixture(scope="module")
def servers(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    token = tmp_path_factory.mktemp("fast") / "token"
    token.write_text(TOKEN)
    common = [str(model_dir / "clf.onnx"), "--token-file", str(token), "--allow-origin", ORIGIN]
    common += ["--max-body-bytes", "4096"]
    started = [start_server(common), start_server([*common, "-v"])]
    yield started
    for server in started:
        server.stop()


@pytest.mark.parametrize("name", list(REQUESTS))
def test_each_request_gets_the_same_answer_on_both_paths(servers: list[Server], name: str) -> None:
    fast, asgi = (answers(s.port, REQUESTS[name]) for s in servers)
    assert fast == asgi
    status = fast[0][0].split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 "), status


def test_pipelined_requests_get_the_same_answers_in_order(servers: list[Server]) -> None:
    names = ["binary", "json", "malformed JSON", "binary", "foreign Host", "json"]
    live = b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    data = REQUESTS["binary"] + live + b"".join(REQUESTS[n] for n in names)
    fast, asgi = (answers(s.port, data, len(names) + 2) for s in servers)
    assert fast == asgi
    statuses = [head.split(b" ", 2)[1] for head, _ in fast]
    assert statuses == [b"200", b"200", b"200", b"200", b"400", b"200", b"403", b"200"]


def test_both_paths_count_the_same_metrics(servers: list[Server]) -> None:
    for server in servers:
        answers(server.port, REQUESTS["binary"] + REQUESTS["malformed JSON"], 2)

    def counts(server: Server) -> dict:
        samples = scrape(server.port, TOKEN)  # latencies differ; how many were observed does not
        return {k: v for k, v in samples.items() if not k[0].endswith(("_sum", "_bucket"))}

    fast, asgi = counts(servers[0]), counts(servers[1])
    assert fast == asgi
    model = frozenset({("model", "clf"), ("version", "1")})
    assert fast[("netlang_inference_request_success_total", model)] > 0
    bad = frozenset({*model, ("reason", "BAD_REQUEST")})
    assert fast[("netlang_inference_request_failure_total", bad)] > 0


def _protocol(method: bytes = b"POST", url: bytes = b"/v2/models/clf/infer", **changes: object):
    parser = SimpleNamespace(
        get_method=lambda: method,
        get_http_version=lambda: changes.get("version", "1.1"),
        should_upgrade=lambda: False,
    )
    headers = changes.get("headers", [(b"content-length", b"10")])
    return SimpleNamespace(
        parser=parser,
        url=url,
        headers=headers,
        expect_100_continue=changes.get("expect", False),
        root_path="",
        limit_concurrency=None,
        connections=set(),
        tasks=set(),
    )


class _App:
    fast_body_bytes = 100

    def infer_route(self, method: str, path: str) -> object | None:
        return (
            object()
            if path in ("/v2/models/clf/infer", "/v2/models/clf/versions/1/infer")
            else None
        )


def test_only_plain_infer_requests_take_the_fast_path() -> None:
    app = _App()
    take = lambda protocol: fast_request(protocol, app)  # noqa: E731
    assert take(_protocol()) == "/v2/models/clf/infer"
    assert take(_protocol(url=b"/v2/models/clf/versions/1/infer")) is not None
    assert take(_protocol(method=b"GET")) is None
    assert take(_protocol(url=b"/v2/models/nope/infer")) is None  # the ASGI cycle says 404
    assert take(_protocol(url=b"/v2/models/clf/infer?x=1")) is None
    assert take(_protocol(url=b"/v2/models/cl%66/infer")) is None
    assert take(_protocol(version="1.0")) is None
    assert take(_protocol(expect=True)) is None  # 100 Continue: uvicorn's cycle sends it
    assert take(_protocol(headers=[])) is None  # no Content-Length
    assert take(_protocol(headers=[(b"content-length", b"101")])) is None  # uvicorn's 413
    chunked = [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")]
    assert take(_protocol(headers=chunked)) is None
