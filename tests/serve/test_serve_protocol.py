"""The infer body codec in-process: the exact bytes tritonclient 2.73.0 sends (captured in the
serving reference, §2.2) decode to the right tensors, and our responses decode with tritonclient's
own InferResult parser."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.http as httpclient

from netlang.runtime.signature import BY_V2, Signature, TensorSpec
from netlang.serve.protocol import (
    InferRequest,
    RequestedOutput,
    ServeError,
    encode_infer,
    parse_infer,
)

MIXED = Signature(
    inputs=(
        TensorSpec("s", BY_V2["BYTES"], (2,)),
        TensorSpec("b", BY_V2["BOOL"], (2,)),
        TensorSpec("l", BY_V2["INT64"], (1,)),
    ),
    outputs=(TensorSpec("y", BY_V2["FP32"], (None,)),),
)
XY = Signature(
    inputs=(TensorSpec("x", BY_V2["FP32"], (None, 3)),),
    outputs=(TensorSpec("y", BY_V2["FP32"], (None, 3)), TensorSpec("n", BY_V2["INT32"], (None,))),
)


def test_tritonclient_capture_c_mixed_binary_and_json_inputs() -> None:
    header = (
        b'{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES",'
        b'"parameters":{"binary_data_size":11}},'
        b'{"name":"b","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}},'
        b'{"name":"l","shape":[1],"datatype":"INT64","data":[7]}],'
        b'"outputs":[{"name":"y","parameters":{"binary_data":false}}]}'
    )
    blobs = b"\x02\x00\x00\x00ab\x01\x00\x00\x00c" + b"\x01\x00"
    request = parse_infer(header + blobs, str(len(header)), MIXED)
    assert request.inputs["s"].tolist() == ["ab", "c"]
    assert request.inputs["b"].dtype == np.bool_ and request.inputs["b"].tolist() == [True, False]
    assert request.inputs["l"].dtype == np.int64 and request.inputs["l"].tolist() == [7]
    assert [(o.name, o.binary) for o in request.outputs] == [("y", False)]


def test_tritonclient_capture_b_no_outputs_listed_means_all_outputs_binary() -> None:
    header = (
        b'{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32",'
        b'"parameters":{"binary_data_size":12}}],'
        b'"parameters":{"binary_data_output":true}}'
    )
    body = header + np.array([1.0, 2.0, 3.0], "<f4").tobytes()
    request = parse_infer(body, str(len(header)), XY)
    np.testing.assert_array_equal(request.inputs["x"], [[1.0, 2.0, 3.0]])
    assert [(o.name, o.binary) for o in request.outputs] == [("y", True), ("n", True)]


def test_nested_json_data_is_accepted_in_row_major_order() -> None:
    body = json.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [4, 5, 6]]}
            ]
        }
    ).encode()
    request = parse_infer(body, None, XY)
    np.testing.assert_array_equal(
        request.inputs["x"], np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    )


@pytest.mark.parametrize("binary", [False, True])
def test_responses_decode_with_tritonclients_parser(binary: bool) -> None:
    body = json.dumps(
        {
            "id": "r1",
            "inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [0] * 6}],
            "parameters": {"binary_data_output": binary},
        }
    ).encode()
    request = parse_infer(body, None, XY)
    y = np.array([[1.5, -2.0, np.pi], [0.0, 1e-8, 3e8]], np.float32)
    n = np.array([7, -9], np.int32)
    payload, header_length = encode_infer("m", request, {"y": y, "n": n})
    assert (header_length is not None) == binary
    result = httpclient.InferResult.from_response_body(payload, header_length=header_length)
    assert result.get_response()["id"] == "r1"
    assert result.get_response()["model_name"] == "m"
    np.testing.assert_array_equal(result.as_numpy("y"), y)
    np.testing.assert_array_equal(result.as_numpy("n"), n)


def test_inputs_disagreeing_on_the_batch_size_are_refused() -> None:
    sig = Signature(
        inputs=(TensorSpec("a", BY_V2["FP32"], (None,)), TensorSpec("b", BY_V2["FP32"], (None,))),
        outputs=(TensorSpec("y", BY_V2["FP32"], (None,)),),
    )
    body = json.dumps(
        {
            "inputs": [
                {"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]},
            ]
        }
    )
    with pytest.raises(ServeError, match="batch size") as e:
        parse_infer(body.encode(), None, sig)
    assert e.value.status == 400


@pytest.mark.parametrize(
    ("data", "message"),
    [([1, 2, 300], "out of range"), ([True, 1, 2], "true/false cannot be INT8"), ([1, 2, 3], None)],
)
def test_integer_json_data_is_range_checked(data: list[object], message: str | None) -> None:
    sig = Signature(
        inputs=(TensorSpec("q", BY_V2["INT8"], (3,)),),
        outputs=(TensorSpec("y", BY_V2["INT8"], (3,)),),
    )
    body = json.dumps({"inputs": [{"name": "q", "shape": [3], "datatype": "INT8", "data": data}]})
    if message is None:
        assert parse_infer(body.encode(), None, sig).inputs["q"].tolist() == [int(v) for v in data]
    else:
        with pytest.raises(ServeError, match=message):
            parse_infer(body.encode(), None, sig)


@pytest.mark.parametrize(
    "data",
    [[0.5, True, 1.0], [[0.5], [False], [1.0]], [0.25] * 1500 + [True] + [0.25] * 1499],
    ids=["flat", "nested", "past the cut size"],
)
def test_json_booleans_in_a_float_tensor_are_refused_naming_input_and_datatype(
    data: list[object],
) -> None:
    shape = [3, 1] if isinstance(data[0], list) else [len(data)]
    sig = Signature(
        inputs=(TensorSpec("x", BY_V2["FP32"], tuple(shape)),),
        outputs=(TensorSpec("y", BY_V2["FP32"], tuple(shape)),),
    )
    tensor = {"name": "x", "shape": shape, "datatype": "FP32", "data": data}
    body = json.dumps({"inputs": [tensor]}).encode()
    with pytest.raises(ServeError, match="input 'x': JSON true/false cannot be FP32") as e:
        parse_infer(body, None, sig)
    assert e.value.status == 400


def test_json_numbers_in_a_bool_tensor_are_refused_naming_input_and_datatype() -> None:
    body = json.dumps({"inputs": [{"name": "b", "shape": [2], "datatype": "BOOL", "data": [1, 0]}]})
    with pytest.raises(ServeError, match="input 'b'.*BOOL") as e:
        parse_infer(body.encode(), None, BOOLS)
    assert e.value.status == 400
    good = body.replace("[1, 0]", "[true, false]").encode()
    assert parse_infer(good, None, BOOLS).inputs["b"].tolist() == [True, False]


BOOLS = Signature(
    inputs=(TensorSpec("b", BY_V2["BOOL"], (2,)),),
    outputs=(TensorSpec("y", BY_V2["BOOL"], (2,)),),
)
BOOLS_HEADER = (
    b'{"inputs":[{"name":"b","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}}]}'
)


def test_bool_bytes_other_than_0_and_1_are_refused() -> None:
    with pytest.raises(ServeError, match="0 or 1"):
        parse_infer(BOOLS_HEADER + b"\x01\x07", str(len(BOOLS_HEADER)), BOOLS)


def _binary_x(rows: int, values: np.ndarray) -> tuple[bytes, str]:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [rows, 3],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 12 * rows},
                }
            ]
        }
    ).encode()
    return header + values.astype("<f4").tobytes(), str(len(header))


def test_a_remembered_header_decodes_each_bodys_own_blob() -> None:
    plans: dict = {}
    rng = np.random.default_rng(0)
    first, second = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    body, length = _binary_x(2, first)
    np.testing.assert_array_equal(
        parse_infer(body, length, XY, plans).inputs["x"], first.astype("f4")
    )
    assert len(plans) == 1
    body, length = _binary_x(2, second)
    request = parse_infer(body, length, XY, plans)
    np.testing.assert_array_equal(request.inputs["x"], second.astype("f4"))
    fresh = parse_infer(body, length, XY)  # no table: the full parse
    assert (request.id, request.outputs) == (fresh.id, fresh.outputs)
    np.testing.assert_array_equal(request.inputs["x"], fresh.inputs["x"])
    assert request.inputs["x"].dtype == fresh.inputs["x"].dtype == np.float32
    assert [(o.name, o.binary) for o in request.outputs] == [("y", False), ("n", False)]


def test_a_remembered_header_with_a_body_of_another_length_gets_the_full_check() -> None:
    plans: dict = {}
    body, length = _binary_x(1, np.zeros((1, 3)))
    parse_infer(body, length, XY, plans)
    with pytest.raises(ServeError, match="4 bytes of binary data were not claimed"):
        parse_infer(body + b"\0" * 4, length, XY, plans)
    with pytest.raises(ServeError, match="claims 12 bytes of binary data but only 8 remain"):
        parse_infer(body[:-4], length, XY, plans)


def test_a_remembered_bool_header_still_checks_every_bodys_bytes() -> None:
    plans: dict = {}
    length = str(len(BOOLS_HEADER))
    request = parse_infer(BOOLS_HEADER + b"\x01\x00", length, BOOLS, plans)
    assert request.inputs["b"].tolist() == [True, False] and len(plans) == 1
    with pytest.raises(ServeError, match="0 or 1"):
        parse_infer(BOOLS_HEADER + b"\x01\x07", length, BOOLS, plans)


def test_headers_with_json_data_are_not_remembered_and_the_table_is_bounded() -> None:
    plans: dict = {}
    body = json.dumps(
        {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
    )
    parse_infer(body.encode(), str(len(body)), XY, plans)
    assert plans == {}
    for rows in range(1, 100):
        parse_infer(*_binary_x(rows, np.ones((rows, 3))), XY, plans)
        assert 1 <= len(plans) <= 64


def test_a_remembered_response_header_writes_the_same_bytes() -> None:
    outputs = (RequestedOutput("y", True), RequestedOutput("n", True))
    results = {"y": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.arange(2, dtype=np.int32)}
    heads: dict = {}  # one model's table
    name = 'a "quoted" model'
    for request_id in (None, 'a "quoted" id', "7", None):
        request = InferRequest(request_id, {}, outputs)
        fresh = encode_infer('x"y', request, results)
        assert encode_infer('x"y', request, results, heads=heads) == fresh
    assert len(heads) == 1  # written once, reused whatever the id
    other = {"y": np.zeros((1, 3), np.float32), "n": np.zeros(1, np.int32)}  # other shapes
    request = InferRequest(None, {}, outputs)
    assert encode_infer(name, request, other, heads=heads) == encode_infer(name, request, other)
    assert len(heads) == 2
    as_json = InferRequest(None, {}, (RequestedOutput("y", False),))  # JSON data: never kept
    assert encode_infer(name, as_json, results, heads=heads) == encode_infer(name, as_json, results)
    assert len(heads) == 2
