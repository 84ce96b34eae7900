"""`netlang serve` on an exported detector: the Open Inference Protocol answer carries the final
detections as the named outputs boxes, scores, classes and batch_index, equal to what
onnxruntime gives for the file, with dynamic batching asked for (and kept off: detections are
rows over the whole batch, not one row per input)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

import netlang
from netlang.diagnostics.source import SourceFile
from netlang.export.ship import Trained, write_onnx

YOLO = Path(__file__).resolve().parents[2] / "stdlib" / "yolo.net"
OUTPUTS = ["boxes", "scores", "classes", "batch_index"]


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """YOLODigits with seeded weights (biases raised so that boxes pass the score floor)."""
    from netlang.backends.weights import init_weights

    graph = netlang.load(YOLO).model("YOLODigits", head="conv", hidden=16)
    weights = init_weights(graph, 0)
    last = [name for name in weights if name.endswith("bias")][-1]
    weights[last] = np.random.default_rng(0).random(weights[last].shape).astype(np.float32)
    trained = Trained(
        SourceFile("yolo.net", YOLO.read_text()),
        graph,
        weights,
        [str(d) for d in range(10)],
        task="detection",
        detection={"boxes": 2, "score": 0.2, "iou": 0.5, "max_per_class": 3},
    )
    return write_onnx(trained, tmp_path_factory.mktemp("det") / "det.onnx")


@pytest.fixture(scope="module")
def server(detector: Path, serve: Callable[[list[str]], Any]) -> Any:
    return serve([str(detector), "--max-batch-size", "8"])


def test_infer_returns_the_named_detection_outputs_onnxruntime_gives(
    detector: Path, server: Any
) -> None:
    images = np.random.default_rng(1).random((2, 1, 64, 64), dtype=np.float32)
    body = {
        "inputs": [
            {"name": "image", "shape": [2, 1, 64, 64], "datatype": "FP32",
             "data": images.reshape(-1).tolist()}
        ]
    }  # fmt: skip
    request = urllib.request.Request(
        f"http://{server.url}/v2/models/det/infer",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert list(outputs) == OUTPUTS
    session = ort.InferenceSession(str(detector), providers=["CPUExecutionProvider"])
    expected = dict(zip(OUTPUTS, session.run(OUTPUTS, {"image": images})))
    assert len(expected["scores"]) > 0
    for name in OUTPUTS:
        assert outputs[name]["shape"] == list(expected[name].shape)
        np.testing.assert_allclose(
            np.array(outputs[name]["data"]).reshape(expected[name].shape), expected[name], atol=1e-5
        )
    assert outputs["classes"]["datatype"] == "INT64" and outputs["boxes"]["datatype"] == "FP32"
    assert set(outputs["batch_index"]["data"]) <= {0, 1}


def test_the_triton_repository_of_a_detector_has_no_batch_dimension(
    detector: Path, tmp_path: Path
) -> None:
    from netlang.serve.triton_repo import write_triton_repo

    model_dir = write_triton_repo(detector, tmp_path, "det", 8, "cpu")
    config = (model_dir / "config.pbtxt").read_text()
    assert "max_batch_size: 0" in config and '"batch_index"' in config


def test_exports_triton_check_of_a_detector_asks_for_no_batching(detector: Path) -> None:
    """`netlang export --triton` checks the config before writing anything, with this function:
    with its default --max-batch-size 8 a detector was refused ('scores' has no dims left)."""
    import onnx

    from netlang.serve.triton_repo import config_of_onnx

    config = config_of_onnx(onnx.load(str(detector)), "det", 8, "gpu")
    assert config["max_batch_size"] == 0 and "dynamic_batching" not in config
    assert [o["dims"] for o in config["output"]] == [[-1, 4], [-1], [-1], [-1]]
