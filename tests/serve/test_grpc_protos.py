"""The committed gRPC modules are protoc's output for the committed KServe proto, they import
beside Triton's client (which defines the same messages), and a gRPC request is rewritten as the
HTTP body the HTTP path decodes to the same arrays, raw or typed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from netlang.runtime.signature import BY_V2, Signature, TensorSpec
from netlang.serve.grpc_tensors import http_body
from netlang.serve.grpc_v2 import grpc_predict_v2_pb2 as pb
from netlang.serve.protocol import ServeError, parse_infer

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("grpc_protos", REPO / "scripts/grpc_protos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_modules_are_generated_from_the_committed_proto(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    script = _script()
    script.generate(tmp_path)
    from netlang.serve.grpc_v2 import grpc_predict_v2_pb2_grpc as committed_grpc

    fresh = tmp_path / script.PROTO.parent
    committed = script.embedded_descriptor(REPO / script.PROTO.parent / script.OUTPUTS[0])
    assert committed == pb.DESCRIPTOR.serialized_pb
    assert script.embedded_descriptor(fresh / script.OUTPUTS[0]) == committed
    # the same tool version writes the same text (another version differs in its version lines)
    if f"'{committed_grpc.GRPC_GENERATED_VERSION}'" in (fresh / script.OUTPUTS[2]).read_text():
        for name in script.OUTPUTS:
            committed = (REPO / script.PROTO.parent / name).read_text()
            assert (fresh / name).read_text() == committed, f"{name}: run scripts/grpc_protos.py"


def test_the_modules_import_beside_tritonclients_own() -> None:
    # a fresh interpreter: both orders define `inference.*`, each in its own descriptor pool
    import subprocess

    code = (
        "import tritonclient.grpc.service_pb2 as t\n"
        "from netlang.serve.grpc_v2 import grpc_predict_v2_pb2 as n, grpc_predict_v2_pb2_grpc\n"
        "r = n.ModelInferRequest(model_name='m', raw_input_contents=[b'x'])\n"
        "assert t.ModelInferRequest.FromString(r.SerializeToString()).model_name == 'm'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


SIGNATURE = Signature(
    inputs=(
        TensorSpec("a", BY_V2["FP32"], (None, 3)),
        TensorSpec("b", BY_V2["INT64"], (None, 3)),
        TensorSpec("s", BY_V2["BYTES"], (None, 1)),
    ),
    outputs=(TensorSpec("y", BY_V2["FP32"], (None, 3)),),
)
A = np.array([[0.1, -2.5, 3e38], [1e-40, 0.0, -0.0]], np.float32)
B = np.array([[1, -(2**62), 3], [0, 2**62, -1]], np.int64)
S = [b"caf\xc3\xa9", b""]


def _request(raw: bool) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="m", id="r1")
    a = request.inputs.add(name="a", datatype="FP32", shape=[2, 3])
    b = request.inputs.add(name="b", datatype="INT64", shape=[2, 3])
    s = request.inputs.add(name="s", datatype="BYTES", shape=[2, 1])
    if raw:
        blob = b"".join(len(v).to_bytes(4, "little") + v for v in S)
        request.raw_input_contents.extend([A.tobytes(), B.tobytes(), blob])
    else:
        a.contents.fp32_contents.extend(A.ravel().tolist())
        b.contents.int64_contents.extend(B.ravel().tolist())
        s.contents.bytes_contents.extend(S)
    request.outputs.add(name="y").parameters["classification"].int64_param = 2
    return request


def _parsed(request: pb.ModelInferRequest):
    return parse_infer(*http_body(request), SIGNATURE, {})


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "typed"])
def test_a_request_decodes_to_its_arrays_bit_for_bit(raw: bool) -> None:
    parsed = _parsed(_request(raw))
    assert parsed.id == "r1"
    assert parsed.inputs["a"].dtype == np.float32 and parsed.inputs["a"].tobytes() == A.tobytes()
    assert parsed.inputs["b"].dtype == np.int64 and np.array_equal(parsed.inputs["b"], B)
    assert parsed.inputs["s"].tolist() == [["café"], [""]]
    assert [(o.name, o.classification) for o in parsed.outputs] == [("y", 2)]


def _refusal(request: pb.ModelInferRequest) -> str:
    with pytest.raises(ServeError) as e:
        _parsed(request)
    assert e.value.status == 400
    return e.value.message


def test_data_in_the_wrong_place_is_refused_with_a_message_that_says_where() -> None:
    both = _request(raw=True)
    both.inputs[0].contents.fp32_contents.extend(A.ravel().tolist())
    assert "raw_input_contents is used" in _refusal(both)
    short = _request(raw=True)
    del short.raw_input_contents[2]
    assert "raw_input_contents has 2 entries for 3 inputs" in _refusal(short)
    wrong = _request(raw=False)
    wrong.inputs[0].contents.ClearField("fp32_contents")
    wrong.inputs[0].contents.fp64_contents.extend(A.ravel().tolist())
    assert "contents.fp32_contents, not in contents.fp64_contents" in _refusal(wrong)


def test_element_counts_and_ranges_are_checked_as_http_checks_them() -> None:
    short = _request(raw=False)
    del short.inputs[1].contents.int64_contents[-1]
    assert _refusal(short) == "input 'b': 5 data elements for shape [2, 3] (6 elements)"
    empty = _request(raw=False)
    empty.inputs[0].contents.ClearField("fp32_contents")
    assert _refusal(empty) == "input 'a': 0 data elements for shape [2, 3] (6 elements)"
    raw_short = _request(raw=True)
    raw_short.raw_input_contents[0] = A.tobytes()[:-4]
    assert "binary_data_size is 20 bytes but shape [2, 3] of FP32 needs 24" in _refusal(raw_short)


def _serve(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from netlang.cli import main

    result = CliRunner().invoke(main, ["serve", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grpc-port", "8001", "--workers", "2"], "served by one process"),
        (["--grpc-port", "8001", "--port", "8001"], "give them two ports"),
    ],
)
def test_grpc_command_lines_that_cannot_be_served_are_refused_before_loading(
    model_dir: Path, args: list[str], message: str
) -> None:
    code, output = _serve(str(model_dir / "clf.onnx"), *args)
    assert code == 1 and message in output


def test_without_the_grpc_extra_the_option_says_what_to_install(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "grpc", None)  # `import grpc` now fails as if absent
    code, output = _serve(str(model_dir / "clf.onnx"), "--grpc-port", "8001")
    assert code == 1 and "pip install 'netlang[grpc]'" in output
