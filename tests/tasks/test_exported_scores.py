"""One truth from report to file: the test split scored through the exported ONNX (plain, with
batch norm folded, and in float16) by an independent library (torchmetrics) gives the figures
test.json reports, for each task: classification, regression, reconstruction, segmentation and
detection. Tiny runs; the data are netlang's own (digits, digit scenes) or written here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from netlang.cli import main
from netlang.data import load_data
from netlang.semantics.train_spec import Call
from netlang.train.run import train_file

torchmetrics = pytest.importorskip("torchmetrics")
pytest.importorskip("torchvision")
pytestmark = pytest.mark.slow

import torchmetrics.functional as tmf  # noqa: E402

CLASSIFIER = """
model Cnn {
    input image: float32[N, 1, 8, 8]
    logits = image -> conv2d(8, kernel=3, padding=1) -> batchnorm2d -> relu
                   -> global_avgpool -> flatten -> linear(10)
    output logits
}
train Cnn {
    data      digits(split=[0.6, 0.2, 0.2])
    normalize standardize
    batch     64
    epochs    2
    optimizer adam(lr=1e-2)
}
"""
REGRESSOR = """
model Reg {
    input x: float32[N, 3]
    y = x -> linear(16) -> relu -> linear(1)
    output y
}
train Reg {
    task      regression
    normalize standardize
    data      csv("rows.csv", label="y", split=[0.6, 0.2, 0.2])
    loss      mse
    batch     16
    epochs    3
    optimizer adam(lr=1e-2)
}
"""
AUTOENCODER = """
model AE {
    input image: float32[N, 1, 8, 8]
    code = image -> flatten -> linear(6)
    recon = code -> linear(64) -> sigmoid -> reshape([1, 8, 8])
    output recon, code
}
train AE {
    task      reconstruction
    data      digits(split=[0.7, 0.15, 0.15])
    normalize none
    batch     64
    epochs    2
    optimizer adam(lr=1e-2)
}
"""
SEGMENTER = """import "unet"
model Tiny(classes: int = 11) = UNet(classes, 1, 32, [4, 8])
train Tiny {
    data      digit_scenes(count=32, size=32, scale=[8, 14], target="masks",
                           split=[0.5, 0.25, 0.25])
    normalize none
    batch     8
    epochs    1
    loss      dice(ce_weight=1)
}
"""
DETECTOR = """import "yolo"
model Tiny(classes: int = 10) = YOLODigits(classes, 2, 4, 1, 32, [8, 8, 8, 8], 16, "conv")
train Tiny {
    data      digit_scenes(count=160, size=32, objects=[1, 1], scale=[12, 16],
                           split=[0.6, 0.1, 0.3])
    task      detection(score=0.01, iou=0.5)
    normalize none
    batch     8
    epochs    6
    optimizer adam(lr=3e-3)
    loss      yolo(lambda_coord=5, lambda_noobj=0.5, boxes=2)
}
"""
SOURCES = {
    "classification": CLASSIFIER,
    "regression": REGRESSOR,
    "reconstruction": AUTOENCODER,
    "segmentation": SEGMENTER,
    "detection": DETECTOR,
}
# float16 rounds each logit to ~1e-3 of its size: a test example near a tie may flip, so its
# figures are held to a looser bound than float32's (which agree to float rounding)
EXPORTS = {"plain": ([], 1e-5), "fold_bn": (["--fold-bn"], 1e-5), "fp16": (["--fp16"], 2e-2)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runs")
    x = np.random.default_rng(0).random((120, 3))
    y = 3 * x[:, 0] - 2 * x[:, 1] ** 2 + x[:, 2]
    rows = ["a,b,c,y"] + [",".join(f"{v:.6f}" for v in (*r, t)) for r, t in zip(x, y)]
    (folder / "rows.csv").write_text("\n".join(rows) + "\n")
    done = {}
    for task, source in SOURCES.items():
        path = folder / f"{task}.net"
        path.write_text(source)
        out = folder / task
        train_file(path, overrides={"out": str(out)}, log=lambda line: None)
        done[task] = out
    return done


def _test_split(run_dir: Path, base_dir: Path) -> Any:
    config = json.loads((run_dir / "config.json").read_text())["config"]
    data = config["data"]
    call = Call(data["call"], tuple(data["args"]), data["kwargs"])
    return load_data(call, seed=config["seed"], base_dir=base_dir).test


def _exported(run_dir: Path, flags: list[str], name: str) -> ort.InferenceSession:
    target = run_dir / f"{name}.onnx"
    result = CliRunner().invoke(main, ["export", str(run_dir), "-o", str(target), *flags])
    assert result.exit_code == 0, result.output
    return ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])


def _scores(task: str, session: ort.InferenceSession, test: Any) -> dict[str, float]:
    """test.json's figures, recomputed with torchmetrics from the exported model's outputs on
    the raw test split (the file standardises in its graph)."""
    (feed,) = session.get_inputs()
    outputs = dict(
        zip([o.name for o in session.get_outputs()], session.run(None, {feed.name: test.x}))
    )
    first = torch.from_numpy(np.asarray(next(iter(outputs.values())), np.float32))
    if task == "classification":
        labels = torch.from_numpy(test.y)
        return {"accuracy": tmf.accuracy(first, labels, "multiclass", num_classes=10).item()}
    if task == "regression":
        truth = torch.from_numpy(np.asarray(test.y, np.float32)).reshape(first.shape)
        return {
            "mae": tmf.mean_absolute_error(first, truth).item(),
            "rmse": tmf.mean_squared_error(first, truth).sqrt().item(),
            "r2": tmf.r2_score(first.flatten(), truth.flatten()).item(),
        }
    if task == "reconstruction":
        return {"mse": tmf.mean_squared_error(first, torch.from_numpy(test.x)).item()}
    if task == "segmentation":
        mask, truth = torch.from_numpy(outputs["mask"]), torch.from_numpy(test.y).long()
        iou = tmf.jaccard_index(mask, truth, "multiclass", num_classes=11, average="none")
        return {
            "mean_iou": iou.mean().item(),
            "pixel_accuracy": (mask == truth).float().mean().item(),
        }
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_type="bbox", backend="pycocotools")
    whose = outputs["batch_index"]
    for i, target in enumerate(test.y):
        target = target[target[:, 4] >= 0]
        mine = whose == i
        metric.update(
            [
                {
                    "boxes": torch.from_numpy(outputs["boxes"][mine].astype(np.float32)),
                    "scores": torch.from_numpy(outputs["scores"][mine].astype(np.float32)),
                    "labels": torch.from_numpy(outputs["classes"][mine]).long(),
                }
            ],
            [
                {
                    "boxes": torch.from_numpy(target[:, :4]),
                    "labels": torch.from_numpy(target[:, 4]).long(),
                }
            ],
        )
    found = metric.compute()
    return {"map": found["map"].item(), "map_50": found["map_50"].item()}


@pytest.mark.parametrize("export", list(EXPORTS))
@pytest.mark.parametrize("task", list(SOURCES))
def test_the_exported_onnx_scores_on_the_test_split_what_test_json_reports(
    runs: dict[str, Path], task: str, export: str
) -> None:
    run_dir = runs[task]
    flags, tolerance = EXPORTS[export]
    session = _exported(run_dir, flags, export)
    reported = json.loads((run_dir / "test.json").read_text())
    assert reported["task"] == task
    recomputed = _scores(task, session, _test_split(run_dir, run_dir.parent))
    for key, value in recomputed.items():
        assert value == pytest.approx(reported[key], abs=tolerance, rel=tolerance), key
