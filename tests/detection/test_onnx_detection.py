"""Differential: the exported detector's own decoding and NonMaxSuppression (onnxruntime) return
the detections that the torch decoding + torchvision's batched NMS return for the same weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import netlang
from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.export.detection import OUTPUTS, BoxDecoding, add_box_decoding
from netlang.tasks import yolo

pytest.importorskip("torchvision")
STDLIB = Path(__file__).resolve().parents[2] / "stdlib" / "yolo.net"


def _detector(head: str, seed: int) -> tuple[torch.nn.Module, ort.InferenceSession, yolo.Grid]:
    graph = netlang.load(STDLIB).model("YOLODigits", head=head, hidden=32)
    module = to_torch(graph, seed=seed).eval()
    with torch.no_grad():  # confident, varied outputs, so that many boxes pass the score floor
        generator = torch.Generator().manual_seed(seed)
        last = [p for name, p in module.named_parameters() if name.endswith("bias")][-1]
        last.copy_(torch.rand(last.shape, generator=generator) * 1.2)
    weights = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    grid = yolo.Grid(8, 2, 10, (64, 64))
    decoding = BoxDecoding(8, 2, 10, (64, 64), score=0.1, iou=0.45, per_class=5)
    model = add_box_decoding(emit_onnx(graph, weights), decoding)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return module, session, grid


def _reference(module: torch.nn.Module, x: np.ndarray, grid: yolo.Grid) -> list[tuple]:
    with torch.no_grad():
        boxes, scores, classes = yolo.decode(module(torch.from_numpy(x)), grid)
    rows = []
    for image in range(len(x)):
        keep = yolo.suppress(
            boxes[image], scores[image], classes[image], iou=0.45, score=0.1, per_class=5
        )
        for k in keep.tolist():
            rows.append((image, int(classes[image, k]), float(scores[image, k]), boxes[image, k]))
    return sorted(rows, key=lambda r: (r[0], r[1], -r[2]))


@pytest.mark.parametrize(("head", "seed"), [("conv", 0), ("dense", 1)])
def test_onnx_detections_equal_torch_decoding_with_torchvision_nms(head: str, seed: int) -> None:
    module, session, grid = _detector(head, seed)
    x = np.random.default_rng(seed).random((3, 1, 64, 64), dtype=np.float32)
    boxes, scores, classes, batch_index = session.run(list(OUTPUTS), {"image": x})
    got = sorted(
        zip(batch_index.tolist(), classes.tolist(), scores.tolist(), boxes),
        key=lambda r: (r[0], r[1], -r[2]),
    )
    expected = _reference(module, x, grid)
    assert len(expected) > 5  # random weights still leave detections above the floor
    assert [(b, c) for b, c, *_ in got] == [(b, c) for b, c, *_ in expected]
    np.testing.assert_allclose([r[2] for r in got], [r[2] for r in expected], atol=1e-5)
    np.testing.assert_allclose(
        np.stack([r[3] for r in got]), np.stack([r[3].numpy() for r in expected]), atol=1e-3
    )


def test_the_exported_detector_names_its_outputs() -> None:
    _, session, _ = _detector("conv", 0)
    assert [o.name for o in session.get_outputs()] == list(OUTPUTS)
