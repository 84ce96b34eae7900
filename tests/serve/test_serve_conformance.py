"""A real `netlang serve` process driven by the stock tritonclient.http client: health, metadata,
config, and inference in JSON and binary modes, each answer checked against a numpy or an
in-process onnxruntime run of the same model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.serve.serve_models import CLASSES, classifier_reference
from tests.serve.servers import Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(plain_server: Server) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(url=plain_server.url)


def _inputs(arrays: dict[str, np.ndarray], binary: bool) -> list[httpclient.InferInput]:
    inputs = []
    for name, array in arrays.items():
        datatype = {"float32": "FP32", "int64": "INT64"}[str(array.dtype)]
        i = httpclient.InferInput(name, list(array.shape), datatype)
        i.set_data_from_numpy(array, binary_data=binary)
        inputs.append(i)
    return inputs


def test_health_and_server_metadata(client: httpclient.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("clf") and client.is_model_ready("mixed", "1")
    meta = client.get_server_metadata()
    assert meta["name"] == "netlang"
    assert "binary_tensor_data" in meta["extensions"]


def test_model_metadata_matches_the_onnx_signature(
    client: httpclient.InferenceServerClient, model_dir: Path
) -> None:
    meta = client.get_model_metadata("mixed")
    session = ort.InferenceSession(
        str(model_dir / "mixed.onnx"), providers=["CPUExecutionProvider"]
    )
    assert meta["platform"] == "onnxruntime_onnx" and meta["versions"] == ["1"]
    assert [(t["name"], t["shape"]) for t in meta["inputs"]] == [
        (i.name, [-1, 3]) for i in session.get_inputs()
    ]
    assert [(t["name"], t["datatype"]) for t in meta["outputs"]] == [
        ("total", "FP32"),
        ("neg", "INT64"),
        ("flag", "BOOL"),
    ]


def test_model_config_describes_the_batch_free_dims(
    client: httpclient.InferenceServerClient,
) -> None:
    config = client.get_model_config("clf")
    assert config["max_batch_size"] == 0  # batching is off on this server
    assert config["input"] == [{"name": "input", "data_type": "TYPE_FP32", "dims": [-1, 8]}]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_classifier_answers_match_the_hand_computed_network(
    client: httpclient.InferenceServerClient, binary: bool
) -> None:
    x = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    out = [httpclient.InferRequestedOutput("logits", binary_data=binary)]
    result = client.infer("clf", _inputs({"input": x}, binary), outputs=out, request_id="req-9")
    response = result.get_response()
    assert response["id"] == "req-9"
    assert ("binary_data_size" in response["outputs"][0].get("parameters", {})) == binary
    np.testing.assert_allclose(
        result.as_numpy("logits"), classifier_reference(x), rtol=1e-5, atol=1e-5
    )
    assert len(CLASSES) == result.as_numpy("logits").shape[1]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_mixed_dtypes_match_onnxruntime(
    client: httpclient.InferenceServerClient, model_dir: Path, binary: bool
) -> None:
    rng = np.random.default_rng(2)
    feeds = {
        "a": rng.standard_normal((3, 3)).astype(np.float32),
        "b": rng.integers(-5, 5, (3, 3)).astype(np.int64),
    }
    session = ort.InferenceSession(
        str(model_dir / "mixed.onnx"), providers=["CPUExecutionProvider"]
    )
    expected = dict(zip(["total", "neg", "flag"], session.run(None, feeds), strict=True))
    result = client.infer("mixed", _inputs(feeds, binary))  # no outputs listed: all, binary
    for name, want in expected.items():
        got = result.as_numpy(name)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_requested_outputs_alone_are_returned_in_the_asked_modes(
    client: httpclient.InferenceServerClient,
) -> None:
    feeds = {"a": np.ones((1, 3), np.float32), "b": np.array([[1, -2, 3]], np.int64)}
    outputs = [
        httpclient.InferRequestedOutput("flag", binary_data=False),
        httpclient.InferRequestedOutput("neg", binary_data=True),
    ]
    result = client.infer("mixed", _inputs(feeds, True), outputs=outputs)
    entries = result.get_response()["outputs"]
    assert [e["name"] for e in entries] == ["flag", "neg"]
    assert entries[0]["data"] == [True, False, True]
    np.testing.assert_array_equal(result.as_numpy("neg"), [[-1, 2, -3]])


def test_gzip_compressed_requests_and_responses_work(
    client: httpclient.InferenceServerClient,
) -> None:
    x = np.full((2, 8), 0.5, np.float32)
    result = client.infer(
        "clf",
        _inputs({"input": x}, True),
        request_compression_algorithm="gzip",
        response_compression_algorithm="gzip",
    )
    np.testing.assert_allclose(
        result.as_numpy("logits"), classifier_reference(x), rtol=1e-5, atol=1e-5
    )


def test_versioned_paths_accept_1_and_refuse_others(
    client: httpclient.InferenceServerClient,
) -> None:
    x = np.zeros((1, 8), np.float32)
    result = client.infer("clf", _inputs({"input": x}, True), model_version="1")
    np.testing.assert_allclose(
        result.as_numpy("logits"), classifier_reference(x), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata("clf", "2")
    assert e.value.status() == "404"


def test_unknown_model_is_a_404_error_the_client_can_read(
    client: httpclient.InferenceServerClient,
) -> None:
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata("no-such-model")
    assert e.value.status() == "404" and "no-such-model" in e.value.message()


def test_large_json_request_parsed_off_the_event_loop_is_answered_correctly(
    client: httpclient.InferenceServerClient,
) -> None:
    x = np.random.default_rng(4).standard_normal((20000, 8)).astype(np.float32)  # > 1 MiB of JSON
    out = [httpclient.InferRequestedOutput("logits", binary_data=True)]
    result = client.infer("clf", _inputs({"input": x}, False), outputs=out)
    np.testing.assert_allclose(
        result.as_numpy("logits"), classifier_reference(x), rtol=1e-4, atol=1e-4
    )
