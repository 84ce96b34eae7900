"""The request guards in-process: loopback detection, the token file and the bearer check, CORS
answers, header limits, and non-finite numbers in and out of the JSON codec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from netlang.runtime.signature import BY_V2, Signature, TensorSpec
from netlang.serve.guards import Guards, is_loopback, preflight_headers, read_token
from netlang.serve.protocol import ServeError, encode_infer, parse_infer
from netlang.serve.server import ServeConfig, guards_for

XY = Signature(
    inputs=(TensorSpec("x", BY_V2["FP32"], (None, 3)),),
    outputs=(TensorSpec("y", BY_V2["FP32"], (None, 3)),),
)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost", True),
        ("0.0.0.0", False),
        ("128.0.0.1", False),
        ("::", False),
        ("evil.example", False),
        ("127.0.0.1.evil.example", False),
    ],
)
def test_every_127_slash_8_address_and_ipv6_loopback_count_as_loopback(
    host: str, loopback: bool
) -> None:
    assert is_loopback(host) is loopback


def test_a_server_bound_to_127_0_0_2_guards_its_host_header() -> None:
    guards = guards_for(ServeConfig(models=[], host="127.0.0.2"))
    assert guards.loopback_only
    for host in ("127.0.0.2:8000", "localhost:8000", "[::1]:8000", "127.0.0.1"):
        guards.check_host(host)
    with pytest.raises(ServeError) as e:
        guards.check_host("evil.example:8000")
    assert e.value.status == 403
    assert not guards_for(ServeConfig(models=[], host="0.0.0.0")).loopback_only


@pytest.mark.parametrize("given", ["Bearer sécret", "Bearer 秘密", "Bearer \x00\xff", "Bearer"])
def test_a_non_ascii_or_empty_bearer_value_is_a_401(given: str) -> None:
    guards = Guards(token=b"s3cret")
    with pytest.raises(ServeError) as e:
        # the app sees header values as latin-1 text, as uvicorn's bytes decode to
        guards.check_token(given.encode("utf-8").decode("latin-1"))
    assert e.value.status == 401
    guards.check_token("Bearer s3cret")


@pytest.mark.parametrize("content", ["sécret\n", "tok en", "\tx\ty", b"\xff\xfe".decode("latin-1")])
def test_a_token_file_that_is_not_one_printable_ascii_word_is_refused(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "token"
    path.write_bytes(content.encode("utf-8"))
    with pytest.raises(ValueError, match="printable ASCII"):
        read_token(path)


def test_a_token_file_is_read_as_bytes_without_surrounding_whitespace(tmp_path: Path) -> None:
    (tmp_path / "token").write_bytes(b"  s3cret-token\r\n")
    assert read_token(tmp_path / "token") == b"s3cret-token"


def test_cors_headers_go_only_to_allowed_origins() -> None:
    guards = Guards(allow_origins=frozenset({"http://ok.example"}))
    headers = dict(guards.cors_headers("http://ok.example"))
    assert headers[b"access-control-allow-origin"] == b"http://ok.example"
    assert b"inference-header-content-length" in headers[b"access-control-expose-headers"]
    assert guards.cors_headers("http://bad.example") == []
    assert guards.cors_headers(None) == []
    preflight = dict(preflight_headers())
    assert b"POST" in preflight[b"access-control-allow-methods"]
    assert b"authorization" in preflight[b"access-control-allow-headers"]


def test_too_many_or_too_large_headers_are_a_431() -> None:
    guards = Guards()
    guards.check_header_limits([(b"x-a", b"1")] * 100)
    for raw in ([(b"x-a", b"1")] * 101, [(b"x-big", b"v" * 17_000)]):
        with pytest.raises(ServeError) as e:
            guards.check_header_limits(raw)
        assert e.value.status == 431


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("[1, NaN, 3]", "NaN is not a JSON number"),
        ("[1, Infinity, 3]", "Infinity is not a JSON number"),
        ("[1, -Infinity, 3]", "-Infinity is not a JSON number"),
        ("[1, 1e400, 3]", "out of range"),
        ("[1, 1e39, 3]", "out of range for FP32"),
    ],
)
def test_non_finite_json_inputs_are_refused_with_400(data: str, message: str) -> None:
    body = f'{{"inputs":[{{"name":"x","shape":[1,3],"datatype":"FP32","data":{data}}}]}}'
    with pytest.raises(ServeError, match=message) as e:
        parse_infer(body.encode(), None, XY)
    assert e.value.status == 400


def _strict_json(text: bytes) -> object:
    def refuse(token: str) -> None:
        raise ValueError(f"bare {token}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_json_outputs_are_strings_that_tritonclient_reads_back() -> None:
    body = b'{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[0,0,0]}]}'
    request = parse_infer(body, None, XY)
    y = np.array([[np.nan, np.inf, -np.inf], [1.5, -0.0, 3.0]], np.float32)
    payload, header_length = encode_infer("m", request, {"y": y})
    assert header_length is None
    document = _strict_json(payload)
    assert document["outputs"][0]["data"] == ["NaN", "Infinity", "-Infinity", 1.5, -0.0, 3.0]
    result = httpclient.InferResult.from_response_body(payload)
    np.testing.assert_array_equal(result.as_numpy("y"), y)
