"""What a user has (image pixels in [0, 1]) gets one answer everywhere: the exported ONNX
standardises inside the graph, so `netlang predict`, a plain onnxruntime session, `netlang serve`
through tritonclient and the Triton repository's model file agree with a torch reference that
standardises by hand; the metadata and /v2/models/NAME state the contract and the classes, and
the classification extension answers as Triton does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from netlang.cli import main
from netlang.diagnostics.source import SourceFile
from netlang.export.ship import Trained, build, write_onnx
from netlang.serve.triton_repo import write_triton_repo

from tests.serve.servers import start_server

SOURCE = """model Tiny(classes: int = 3) {
  input image: float32[N, 1, 8, 8]
  logits = image -> conv2d(4, kernel=3, padding=1) -> relu -> flatten -> linear(classes)
  output logits
}
"""
CLASSES = ["ant", "bee", "cow"]
MEAN, STD = [0.3], [0.2]


@pytest.fixture(scope="module")
def trained() -> Trained:
    from netlang.backends.weights import init_weights

    source = SourceFile("tiny.net", SOURCE)
    graph = build(source, "Tiny", {})
    weights = {k: v * 4 for k, v in init_weights(graph, 3).items()}  # confident enough to differ
    normalization = {"kind": "standardize", "mean": MEAN, "std": STD}
    return Trained(source, graph, weights, CLASSES, normalization)


@pytest.fixture(scope="module")
def exported(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_onnx(trained, tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture(scope="module")
def pixels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    raw = np.random.default_rng(1).integers(0, 256, (8, 8), dtype=np.uint8)
    path = tmp_path_factory.mktemp("img") / "digit.png"
    Image.fromarray(raw).save(path)
    return path, (raw.astype(np.float32) / 255.0)[None, None]


def reference(trained: Trained, x: np.ndarray) -> np.ndarray:
    """torch.nn.functional on hand-standardised pixels, the netlang weights, softmax."""
    w = {k: torch.from_numpy(np.asarray(v)) for k, v in trained.weights.items()}
    conv, head = (k.rsplit(".", 1)[0] for k in w if k.endswith("weight"))
    t = (torch.from_numpy(x) - MEAN[0]) / STD[0]
    t = torch.relu(torch.nn.functional.conv2d(t, w[f"{conv}.weight"], w[f"{conv}.bias"], 1, 1))
    logits = torch.nn.functional.linear(t.flatten(1), w[f"{head}.weight"], w[f"{head}.bias"])
    return torch.softmax(logits.double(), 1)[0].numpy()


def softmax(logits: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.from_numpy(np.array(logits)).double(), 1)[0].numpy()


def test_metadata_states_the_input_contract_and_in_graph_standardisation(exported: Path) -> None:
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    recipe = json.loads(meta["netlang.preprocess"])
    assert recipe["input"] == "image pixels scaled to [0, 1], NCHW float32"
    assert recipe["in_graph"] is True and recipe["mean"] == MEAN and recipe["std"] == STD
    assert json.loads(meta["netlang.classes"]) == CLASSES


def test_predict_onnxruntime_serve_and_triton_file_give_the_same_probabilities(
    trained: Trained, exported: Path, pixels: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    import tritonclient.http as httpclient

    png, x = pixels
    expected = reference(trained, x)

    args = ["predict", str(exported), str(png), "--top-k", "3", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["predictions"]
    by_label = {g["label"]: g["probability"] for g in row["top"]}
    predicted = np.array([by_label[c] for c in CLASSES])

    plain = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    onnxruntime_probs = softmax(plain.run(None, {"image": x})[0])

    model_dir = write_triton_repo(exported, tmp_path / "repo", "tiny", 8, "cpu")
    triton_file = ort.InferenceSession(
        str(model_dir / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    triton_probs = softmax(triton_file.run(None, {"image": x})[0])
    assert (model_dir / "labels.txt").read_text().split() == CLASSES
    assert 'label_filename: "labels.txt"' in (model_dir / "config.pbtxt").read_text()

    server = start_server([str(exported), "--name", "tiny"])
    try:
        client = httpclient.InferenceServerClient(url=server.url)
        image = httpclient.InferInput("image", list(x.shape), "FP32")
        image.set_data_from_numpy(x)
        answer = client.infer("tiny", [image])
        served_probs = softmax(answer.as_numpy("logits"))
        metadata = client.get_model_metadata("tiny")
        top = httpclient.InferRequestedOutput("logits", class_count=2)
        classified = client.infer("tiny", [image], outputs=[top]).as_numpy("logits")
    finally:
        server.stop()

    for probs in (predicted, onnxruntime_probs, triton_probs, served_probs):
        np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert metadata["parameters"]["input"] == "image pixels scaled to [0, 1], NCHW float32"
    assert json.loads(metadata["parameters"]["classes"]) == CLASSES
    assert json.loads(metadata["parameters"]["preprocess"])["in_graph"] is True

    logits = plain.run(None, {"image": x})[0][0]
    best = np.argsort(-logits, kind="stable")[:2]
    assert [v.decode() for v in classified.reshape(-1)] == [
        f"{logits[i]:f}:{i}:{CLASSES[i]}" for i in best
    ]
