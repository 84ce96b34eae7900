"""`netlang serve --grpc-port` driven by the stock tritonclient.grpc client (and by Triton's own
generated stubs for typed contents): health, metadata, inference with raw and typed contents,
errors as gRPC status codes with the HTTP path's messages, batching across concurrent calls,
the token and deadlines. Answers are checked against HTTP's, onnxruntime's and numpy's."""

from __future__ import annotations

import concurrent.futures
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from onnx import TensorProto, helper
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from tests.serve.serve_models import (
    IR_VERSION,
    OPSET,
    classifier_reference,
    save_text_classifier,
    text_reference,
)
from tests.serve.servers import Server, free_port, scrape, start_server

pytestmark = pytest.mark.slow
TOKEN = "grpc-s3cret"
MAX_BODY = 64 * 1024


def save_half(path: Path) -> Path:
    """x FP16 [N, 4] -> y = relu(x) FP16."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["N", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "half", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=OPSET, ir_version=IR_VERSION), str(path))
    return path


class Served:
    """A server with its gRPC and HTTP clients."""

    def __init__(self, server: Server, grpc_port: int) -> None:
        self.server = server
        self.address = f"127.0.0.1:{grpc_port}"
        self.grpc = grpcclient.InferenceServerClient(self.address)
        self.http = httpclient.InferenceServerClient(server.url)
        self.channel = grpc.insecure_channel(self.address)
        self.stub = service_pb2_grpc.GRPCInferenceServiceStub(self.channel)


def _start(args: list[str]) -> tuple[Server, int]:
    port = free_port()
    return start_server([*args, "--grpc-port", str(port)]), port


@pytest.fixture(scope="module")
def served(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Batching off, four models, bodies up to MAX_BODY bytes."""
    d = tmp_path_factory.mktemp("grpc")
    models = [
        model_dir / "clf.onnx",
        model_dir / "mixed.onnx",
        save_text_classifier(d / "text.onnx"),
        save_half(d / "half.onnx"),
    ]
    server, port = _start([*map(str, models), "--max-body-bytes", str(MAX_BODY)])
    yield Served(server, port)
    server.stop()


@pytest.fixture(scope="module")
def batching(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Batching on (16 rows, 200 ms to gather them), behind a token."""
    token = tmp_path_factory.mktemp("token") / "token"
    token.write_text(TOKEN)
    server, port = _start(
        [
            str(model_dir / "clf.onnx"),
            "--max-batch-size",
            "16",
            "--max-queue-delay-us",
            "200000",
            "--token-file",
            str(token),
        ]
    )
    yield Served(server, port)
    server.stop()


def _grpc_input(name: str, array: np.ndarray, datatype: str) -> grpcclient.InferInput:
    i = grpcclient.InferInput(name, list(array.shape), datatype)
    i.set_data_from_numpy(array)
    return i


def _http_input(name: str, array: np.ndarray, datatype: str) -> httpclient.InferInput:
    i = httpclient.InferInput(name, list(array.shape), datatype)
    i.set_data_from_numpy(array, binary_data=True)
    return i


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_health_and_metadata_answer_as_http_does(served: Served) -> None:
    c = served.grpc
    assert c.is_server_live() and c.is_server_ready()
    assert c.is_model_ready("clf") and c.is_model_ready("mixed", "1")
    meta = c.get_server_metadata(as_json=True)
    http_meta = served.http.get_server_metadata()
    assert (meta["name"], meta["version"], meta["extensions"]) == (
        http_meta["name"],
        http_meta["version"],
        http_meta["extensions"],
    )
    for name in ("clf", "mixed", "text", "half"):
        model = c.get_model_metadata(name, as_json=True)
        http_model = served.http.get_model_metadata(name)
        for key in ("inputs", "outputs"):
            tensors = [(t["name"], t["datatype"], list(map(int, t["shape"]))) for t in model[key]]
            assert tensors == [(t["name"], t["datatype"], t["shape"]) for t in http_model[key]]
        assert model["platform"] == "onnxruntime_onnx" and model["versions"] == ["1"]


def test_fp32_raw_contents_answer_bit_for_bit_as_http_and_onnxruntime(
    served: Served, model_dir: Path
) -> None:
    x = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    result = served.grpc.infer("clf", [_grpc_input("input", x, "FP32")], request_id="r-7")
    by_grpc = result.as_numpy("logits")
    assert result.get_response().id == "r-7"
    by_http = served.http.infer("clf", [_http_input("input", x, "FP32")]).as_numpy("logits")
    session = ort.InferenceSession(str(model_dir / "clf.onnx"), providers=["CPUExecutionProvider"])
    (by_ort,) = session.run(["logits"], {"input": x})
    assert _same_bits(by_grpc, by_http) and _same_bits(by_grpc, by_ort)
    np.testing.assert_allclose(by_grpc, classifier_reference(x), rtol=1e-5, atol=1e-5)


def _typed_request(model: str, **tensors: tuple[str, np.ndarray, str, list]) -> object:
    """A ModelInferRequest (Triton's own generated class) with typed contents."""
    request = service_pb2.ModelInferRequest(model_name=model)
    for name, (datatype, array, field, values) in tensors.items():
        tensor = request.inputs.add(name=name, datatype=datatype, shape=list(array.shape))
        getattr(tensor.contents, field).extend(values)
    return request


def _raw_outputs(response: object) -> dict[str, bytes]:
    return {o.name: raw for o, raw in zip(response.outputs, response.raw_output_contents)}


def test_typed_contents_answer_as_raw_contents_do(served: Served) -> None:
    x = np.random.default_rng(2).standard_normal((3, 8)).astype(np.float32)
    typed = served.stub.ModelInfer(
        _typed_request("clf", input=("FP32", x, "fp32_contents", x.ravel().tolist()))
    )
    raw = served.grpc.infer("clf", [_grpc_input("input", x, "FP32")]).as_numpy("logits")
    assert _raw_outputs(typed)["logits"] == raw.tobytes()

    a = np.full((2, 3), 0.5, np.float32)
    b = np.array([[1, -2, 3], [2**40, 0, -(2**40)]], np.int64)
    typed = served.stub.ModelInfer(
        _typed_request(
            "mixed",
            a=("FP32", a, "fp32_contents", a.ravel().tolist()),
            b=("INT64", b, "int64_contents", b.ravel().tolist()),
        )
    )
    outputs = _raw_outputs(typed)
    assert outputs["neg"] == (-b).tobytes()
    assert outputs["flag"] == (b > 0).tobytes()
    assert outputs["total"] == (a + b.astype(np.float32)).tobytes()


def test_int64_bool_and_bytes_tensors_travel_raw(served: Served) -> None:
    a = np.ones((1, 3), np.float32)
    b = np.array([[7, -8, 0]], np.int64)
    result = served.grpc.infer("mixed", [_grpc_input("a", a, "FP32"), _grpc_input("b", b, "INT64")])
    assert _same_bits(result.as_numpy("neg"), -b)
    assert _same_bits(result.as_numpy("flag"), b > 0)

    sentences = np.array([["win cash now"], ["see you at lunch"]], dtype=object)
    name = served.grpc.get_model_metadata("text").inputs[0].name
    by_grpc = served.grpc.infer("text", [_grpc_input(name, sentences, "BYTES")])
    by_http = served.http.infer("text", [_http_input(name, sentences, "BYTES")])
    assert _same_bits(by_grpc.as_numpy("logits"), by_http.as_numpy("logits"))
    np.testing.assert_allclose(
        by_grpc.as_numpy("logits"), text_reference(["win cash now", "see you at lunch"]), 1e-5
    )
    typed = served.stub.ModelInfer(
        _typed_request(
            "text", **{name: ("BYTES", sentences, "bytes_contents", [b"win cash now", b"ok"])}
        )
    )
    np.testing.assert_allclose(
        np.frombuffer(_raw_outputs(typed)["logits"], np.float32).reshape(2, 2),
        text_reference(["win cash now", "ok"]),
        1e-5,
    )


def test_fp16_travels_raw_and_typed_contents_for_it_are_refused(served: Served) -> None:
    x = np.array([[-1.5, 0.0, 2.25, 65504.0]], np.float16)
    y = served.grpc.infer("half", [_grpc_input("x", x, "FP16")]).as_numpy("y")
    assert _same_bits(y, np.maximum(x, np.float16(0)))
    with pytest.raises(grpc.RpcError) as refused:
        served.stub.ModelInfer(_typed_request("half", x=("FP16", x, "fp32_contents", [1.0] * 4)))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "raw" in refused.value.details()


def _grpc_error(call) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as e:
        call()
    return e.value


# (model, inputs as (name, array, datatype)), each a mistake the HTTP path also refuses
MISTAKES = {
    "unknown model": ("nope", [("input", np.zeros((1, 8), np.float32), "FP32")]),
    "bad shape": ("clf", [("input", np.zeros((1, 7), np.float32), "FP32")]),
    "wrong datatype": ("clf", [("input", np.zeros((1, 8), np.float64), "FP64")]),
    "missing input": ("mixed", [("a", np.zeros((1, 3), np.float32), "FP32")]),
    "unknown input": ("clf", [("inputs", np.zeros((1, 8), np.float32), "FP32")]),
}
CODES = {"unknown model": "StatusCode.NOT_FOUND"}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_gets_its_status_code_and_the_http_message(served: Served, mistake: str) -> None:
    model, tensors = MISTAKES[mistake]
    by_grpc = _grpc_error(
        lambda: served.grpc.infer(model, [_grpc_input(n, a, d) for n, a, d in tensors])
    )
    by_http = _grpc_error(
        lambda: served.http.infer(model, [_http_input(n, a, d) for n, a, d in tensors])
    )
    assert by_grpc.status() == CODES.get(mistake, "StatusCode.INVALID_ARGUMENT")
    assert by_grpc.message() == by_http.message()
    x = np.ones((1, 8), np.float32)  # and the server goes on serving
    assert served.grpc.infer("clf", [_grpc_input("input", x, "FP32")]).as_numpy("logits").shape


def test_unknown_versions_wrong_fields_and_large_messages_are_refused(served: Served) -> None:
    x = np.zeros((1, 8), np.float32)
    e = _grpc_error(lambda: served.grpc.infer("clf", [_grpc_input("input", x, "FP32")], "2"))
    assert e.status() == "StatusCode.NOT_FOUND" and "no version '2'" in e.message()
    with pytest.raises(grpc.RpcError) as wrong:
        served.stub.ModelInfer(_typed_request("clf", input=("FP32", x, "int_contents", [0] * 8)))
    assert wrong.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "contents.fp32_contents" in wrong.value.details()
    big = np.zeros((MAX_BODY // 32 + 1, 8), np.float32)  # just over the body limit
    e = _grpc_error(lambda: served.grpc.infer("clf", [_grpc_input("input", big, "FP32")]))
    assert e.status() == "StatusCode.RESOURCE_EXHAUSTED"
    assert served.grpc.infer("clf", [_grpc_input("input", x, "FP32")]).as_numpy("logits").shape


def test_grpc_requests_are_counted_in_the_metrics(served: Served) -> None:
    labels = frozenset({("model", "clf"), ("version", "1")})
    before = scrape(served.server.port)
    x = np.ones((2, 8), np.float32)
    for _ in range(3):
        served.grpc.infer("clf", [_grpc_input("input", x, "FP32")])
    _grpc_error(lambda: served.grpc.infer("clf", [_grpc_input("input", x[:, :7], "FP32")]))
    after = scrape(served.server.port)

    def delta(name: str, extra: frozenset = frozenset()) -> float:
        key = (name, labels | extra)
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("netlang_inference_request_success_total") == 3
    assert delta("netlang_inference_count_total") == 6
    bad = frozenset({("reason", "BAD_REQUEST")})
    assert delta("netlang_inference_request_failure_total", bad) == 1

    def code(name: str) -> float:
        key = ("netlang_grpc_responses_total", frozenset({("code", name)}))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert code("OK") == 3 and code("INVALID_ARGUMENT") == 1


def test_concurrent_calls_merge_into_batches_and_each_gets_its_own_rows(batching: Served) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    rows = np.random.default_rng(3).standard_normal((16, 1, 8)).astype(np.float32)
    before = scrape(batching.server.port, TOKEN)
    clients = [grpcclient.InferenceServerClient(batching.address) for _ in range(16)]

    def call(i: int) -> np.ndarray:
        inputs = [_grpc_input("input", rows[i], "FP32")]
        return clients[i].infer("clf", inputs, headers=headers).as_numpy("logits")

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(16)))
    after = scrape(batching.server.port, TOKEN)
    for row, answer in zip(rows, answers, strict=True):
        np.testing.assert_allclose(answer, classifier_reference(row), rtol=1e-5, atol=1e-5)
    key = ("netlang_inference_exec_count_total", frozenset({("model", "clf"), ("version", "1")}))
    assert after[key] - before.get(key, 0.0) < 16  # merged


def test_the_token_is_asked_for_except_by_the_health_probes(batching: Served) -> None:
    c = batching.grpc
    assert c.is_server_live() and c.is_server_ready()
    x = np.ones((1, 8), np.float32)
    e = _grpc_error(lambda: c.infer("clf", [_grpc_input("input", x, "FP32")]))
    assert e.status() == "StatusCode.UNAUTHENTICATED"
    e = _grpc_error(lambda: c.get_model_metadata("clf", headers={"authorization": "Bearer no"}))
    assert e.status() == "StatusCode.UNAUTHENTICATED"


def test_a_call_past_its_deadline_ends_and_the_server_serves_on(batching: Served) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    x = np.ones((1, 8), np.float32)
    cancelled = ("netlang_grpc_responses_total", frozenset({("code", "CANCELLED")}))
    before = scrape(batching.server.port, TOKEN).get(cancelled, 0.0)
    e = _grpc_error(  # (the batcher waits 200 ms for more rows)
        lambda: batching.grpc.infer(
            "clf", [_grpc_input("input", x, "FP32")], headers=headers, client_timeout=0.05
        )
    )
    assert e.status() == "StatusCode.DEADLINE_EXCEEDED"
    answer = batching.grpc.infer("clf", [_grpc_input("input", x, "FP32")], headers=headers)
    np.testing.assert_allclose(answer.as_numpy("logits"), classifier_reference(x), 1e-5, 1e-5)
    assert scrape(batching.server.port, TOKEN)[cancelled] - before == 1  # the server's call ended
    with urllib.request.urlopen(f"http://{batching.server.url}/v2/health/ready") as r:
        assert r.status == 200


def test_sigterm_stops_both_listeners_cleanly(model_dir: Path) -> None:
    server, port = _start([str(model_dir / "clf.onnx")])
    try:
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
        x = np.ones((1, 8), np.float32)
        assert client.infer("clf", [_grpc_input("input", x, "FP32")]).as_numpy("logits").shape
        client.close()
        server.process.terminate()
        assert server.process.wait(timeout=30) in (0, -15)  # (uvicorn re-raises the signal)
        server.log.seek(0)
        log = server.log.read().decode(errors="replace")
        assert "gRPC API (KServe V2) on 127.0.0.1" in log
        assert "Application shutdown complete" in log and "Traceback" not in log
    finally:
        server.stop()
