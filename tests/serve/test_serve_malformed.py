"""Bad requests against a real `netlang serve` process, sent raw with http.client: each gets its
4xx status with a JSON {"error": ...} that names the problem, and the server keeps serving."""

from __future__ import annotations

import gzip
import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.servers import Server, scrape, start_server

pytestmark = pytest.mark.slow

INFER = "/v2/models/clf/infer"
ROW = [0.5] * 8


def request(
    server: Server, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        status, payload = response.status, response.read()
    finally:
        connection.close()
    document = json.loads(payload) if payload else {}
    return status, document


def infer_body(inputs: list[dict], **extra: object) -> bytes:
    return json.dumps({"inputs": inputs, **extra}).encode()


def clf_input(**overrides: object) -> dict:
    return {"name": "input", "shape": [1, 8], "datatype": "FP32", "data": ROW, **overrides}


def binary_body(size: int, blob: bytes) -> tuple[bytes, dict[str, str]]:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [1, 8],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": size},
                }
            ]
        }
    ).encode()
    return header + blob, {"Inference-Header-Content-Length": str(len(header))}


CASES = {
    "malformed json": ("POST", INFER, b'{"inputs": [', {}, 400, "malformed JSON"),
    "json not an object": ("POST", INFER, b"[1, 2]", {}, 400, "JSON object"),
    "deeply nested json": ("POST", INFER, b"[" * 10000 + b"]" * 10000, {}, 400, "malformed JSON"),
    "header length not a number": (
        "POST",
        INFER,
        infer_body([clf_input()]),
        {"Inference-Header-Content-Length": "12abc"},
        400,
        "Inference-Header-Content-Length",
    ),
    "header length negative": (
        "POST",
        INFER,
        infer_body([clf_input()]),
        {"Inference-Header-Content-Length": "-3"},
        400,
        "Inference-Header-Content-Length",
    ),
    "header length past the body": (
        "POST",
        INFER,
        infer_body([clf_input()]),
        {"Inference-Header-Content-Length": "99999"},
        400,
        "exceeds the body",
    ),
    "binary size disagrees with shape": (
        "POST",
        INFER,
        *binary_body(28, b"\0" * 28),
        400,
        "needs 32",
    ),
    "leftover binary bytes": ("POST", INFER, *binary_body(32, b"\0" * 36), 400, "not claimed"),
    "binary size past the body": ("POST", INFER, *binary_body(32, b"\0" * 8), 400, "remain"),
    "unknown input": ("POST", INFER, infer_body([clf_input(name="image")]), {}, 400, "'image'"),
    "missing input": (
        "POST",
        "/v2/models/mixed/infer",
        infer_body([{"name": "a", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]),
        {},
        400,
        "missing input",
    ),
    "duplicate input": ("POST", INFER, infer_body([clf_input(), clf_input()]), {}, 400, "twice"),
    "wrong datatype": ("POST", INFER, infer_body([clf_input(datatype="FP64")]), {}, 400, "FP64"),
    "wrong rank": ("POST", INFER, infer_body([clf_input(shape=[8])]), {}, 400, "shape"),
    "wrong inner dim": ("POST", INFER, infer_body([clf_input(shape=[2, 4])]), {}, 400, "[-1, 8]"),
    "negative dim": (
        "POST",
        INFER,
        infer_body([clf_input(shape=[-1, 8])]),
        {},
        400,
        "non-negative",
    ),
    "overflowing shape": (
        "POST",
        INFER,
        infer_body([clf_input(shape=[2**62, 8])]),
        {},
        400,
        "data elements",
    ),
    "too few data elements": (
        "POST",
        INFER,
        infer_body([clf_input(data=ROW[:5])]),
        {},
        400,
        "5 data",
    ),
    "non-numeric data": (
        "POST",
        INFER,
        infer_body([clf_input(data=["x"] * 8)]),
        {},
        400,
        "cannot be FP32",
    ),
    "JSON booleans for FP32": (
        "POST",
        INFER,
        infer_body([clf_input(data=[0.5] * 7 + [True])]),
        {},
        400,
        "input 'input': JSON true/false cannot be FP32",
    ),
    "float data for INT64": (
        "POST",
        "/v2/models/mixed/infer",
        infer_body(
            [
                {"name": "a", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]},
                {"name": "b", "shape": [1, 3], "datatype": "INT64", "data": [1.5, 2, 3]},
            ]
        ),
        {},
        400,
        "cannot be INT64",
    ),
    "unknown output": (
        "POST",
        INFER,
        infer_body([clf_input()], outputs=[{"name": "probs"}]),
        {},
        400,
        "'probs'",
    ),
    "classification count not an integer": (
        "POST",
        INFER,
        infer_body(
            [clf_input()], outputs=[{"name": "logits", "parameters": {"classification": "2"}}]
        ),
        {},
        400,
        "classification",
    ),
    "shared memory input": (
        "POST",
        INFER,
        infer_body(
            [clf_input(parameters={"shared_memory_region": "r", "shared_memory_byte_size": 32})]
        ),
        {},
        400,
        "shared-memory",
    ),
    "unknown content encoding": ("POST", INFER, b"{}", {"Content-Encoding": "br"}, 415, "br"),
    "corrupt gzip": ("POST", INFER, b"not gzip", {"Content-Encoding": "gzip"}, 400, "gzip"),
    "unknown model": (
        "POST",
        "/v2/models/nope/infer",
        infer_body([clf_input()]),
        {},
        404,
        "'nope'",
    ),
    "unknown route": ("GET", "/v2/repository/index", b"", {}, 404, "no such endpoint"),
    "post to health": ("POST", "/v2/health/live", b"{}", {}, 405, "Method Not Allowed"),
    "get on infer": ("GET", INFER, b"", {}, 405, "Method Not Allowed"),
    "a shape of 10**12 rows with 1,000 numbers": (
        "POST",
        INFER,
        infer_body([clf_input(shape=[10**12, 8], data=[0.5] * 1000)]),
        {},
        400,
        "shape",
    ),
    "browser origin": (
        "POST",
        INFER,
        infer_body([clf_input()]),
        {"Origin": "http://evil.example"},
        403,
        "origin",
    ),
    "rebinding host": ("GET", "/v2", b"", {"Host": "evil.example:8000"}, 403, "Host"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_request_gets_a_json_4xx_and_the_server_keeps_serving(
    plain_server: Server, case: str
) -> None:
    method, path, body, headers, want_status, want_text = CASES[case]
    status, document = request(plain_server, method, path, body, headers)
    assert status == want_status, document
    assert set(document) == {"error"} and want_text.lower() in document["error"].lower()
    assert request(plain_server, "GET", "/v2/health/live")[0] == 200
    status, document = request(plain_server, "POST", INFER, infer_body([clf_input()]))
    assert status == 200 and document["outputs"][0]["shape"] == [1, 3]


@pytest.fixture(scope="module")
def guarded_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    token_file = tmp_path_factory.mktemp("secret") / "token"
    token_file.write_text("s3cret-token\n")
    server = start_server(
        [
            str(model_dir / "clf.onnx"),
            "--token-file",
            str(token_file),
            "--allow-origin",
            "http://ok.example",
            "--max-body-bytes",
            "4096",
        ]
    )
    yield server
    server.stop()


AUTH = {"Authorization": "Bearer s3cret-token"}


def test_token_is_required_except_for_health_probes(guarded_server: Server) -> None:
    body = infer_body([clf_input()])
    assert request(guarded_server, "POST", INFER, body)[0] == 401
    assert request(guarded_server, "POST", INFER, body, {"Authorization": "Bearer wrong"})[0] == 401
    assert (
        request(guarded_server, "GET", "/v2", b"", {"Authorization": "Basic s3cret-token"})[0]
        == 401
    )
    assert request(guarded_server, "GET", "/metrics")[0] == 401
    assert request(guarded_server, "GET", "/v2/health/ready")[0] == 200
    status, document = request(guarded_server, "POST", INFER, body, AUTH)
    assert status == 200 and document["model_name"] == "clf"


def test_allowed_origin_passes_and_others_are_refused(guarded_server: Server) -> None:
    body = infer_body([clf_input()])
    assert (
        request(guarded_server, "POST", INFER, body, {**AUTH, "Origin": "http://ok.example"})[0]
        == 200
    )
    assert (
        request(guarded_server, "POST", INFER, body, {**AUTH, "Origin": "http://bad.example"})[0]
        == 403
    )


def test_bodies_over_the_limit_get_413_also_after_decompression(guarded_server: Server) -> None:
    big = infer_body([clf_input(data=[0.0] * 8, pad="x" * 5000)])
    status, document = request(guarded_server, "POST", INFER, big, AUTH)
    assert status == 413 and "4096" in document["error"]
    bomb = gzip.compress(b" " * 1_000_000)  # ~1 KB on the wire, 1 MB inflated
    assert len(bomb) < 4096
    status, document = request(
        guarded_server, "POST", INFER, bomb, {**AUTH, "Content-Encoding": "gzip"}
    )
    assert status == 413 and "decompressed" in document["error"]
    assert request(guarded_server, "GET", "/v2/health/live")[0] == 200


def test_wrong_method_names_the_allowed_one(plain_server: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", plain_server.port, timeout=10)
    connection.request("POST", "/v2/health/live", body=b"")
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 405 and response.getheader("allow") == "GET, HEAD"


def test_head_is_answered_like_get_without_a_body_on_a_kept_alive_connection(
    plain_server: Server,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", plain_server.port, timeout=10)
    try:
        for path in ("/v2/health/ready", "/v2/models/clf", "/v2/models/clf/versions/1/ready"):
            connection.request("GET", path)
            got = connection.getresponse()
            body = got.read()
            connection.request("HEAD", path)  # the same connection: the head must not be held
            head = connection.getresponse()
            assert head.status == got.status == 200 and head.read() == b""
            assert head.getheader("content-length") == str(len(body))
    finally:
        connection.close()


def test_refusals_are_counted_in_metrics(plain_server: Server) -> None:
    request(plain_server, "POST", INFER, b"{")
    samples = scrape(plain_server.port)
    labels = frozenset({"model": "clf", "version": "1", "reason": "BAD_REQUEST"}.items())
    assert samples[("netlang_inference_request_failure_total", labels)] >= 1
    assert samples[("netlang_http_responses_total", frozenset({("code", "400")}))] >= 1
