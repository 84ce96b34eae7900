"""From a `.net` file to pictures: a detector and a segmenter train a few steps on digit scenes,
export (the detector's ONNX ending in NonMaxSuppression, the segmenter's in a mask), and
`netlang predict` prints and draws their boxes and masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from netlang.cli import main
from netlang.train.run import train_file

pytest.importorskip("torchmetrics")
pytest.importorskip("torchvision")

DETECTOR = """import "yolo"
model Tiny(classes: int = 10) = YOLODigits(classes, 2, 4, 1, 32, [8, 8, 8, 8], 16, "conv")
train Tiny {
    data      digit_scenes(count=48, size=32, scale=[8, 14], split=[0.5, 0.25, 0.25])
    task      detection(score=0.01, iou=0.5)
    normalize none
    batch     8
    epochs    1
    loss      yolo(lambda_coord=5, lambda_noobj=0.5, boxes=2)
    augment   [hflip, translate(3)]
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
    augment   translate(3)
}
"""


def _train(tmp_path: Path, source: str) -> tuple[Path, dict]:
    path = tmp_path / "model.net"
    path.write_text(source)
    result = train_file(path, overrides={"out": str(tmp_path / "run")}, log=lambda line: None)
    return result.run_dir, json.loads((result.run_dir / "test.json").read_text())


def _export_and_predict(tmp_path: Path, run_dir: Path) -> tuple[onnx.ModelProto, dict]:
    runner = CliRunner()
    exported = runner.invoke(main, ["export", str(run_dir), "-o", str(tmp_path / "m.onnx")])
    assert exported.exit_code == 0, exported.output
    images = np.random.default_rng(0).random((2, 1, 32, 32), dtype=np.float32)
    np.save(tmp_path / "two.npy", images)
    predicted = runner.invoke(
        main,
        ["predict", str(tmp_path / "m.onnx"), str(tmp_path / "two.npy"), "--json",
         "--out", str(tmp_path / "pictures")],
    )  # fmt: skip
    assert predicted.exit_code == 0, predicted.output
    return onnx.load(str(tmp_path / "m.onnx")), json.loads(predicted.output)


@pytest.mark.slow
def test_a_detector_trains_reports_map_exports_nms_and_predicts_boxes(tmp_path: Path) -> None:
    run_dir, test = _train(tmp_path, DETECTOR)
    assert 0 <= test["map_50"] <= 1 and 0 <= test["map"] <= test["map_50"]
    assert set(test["ap_per_class"]) <= {str(d) for d in range(10)}
    assert (run_dir / "detections.png").is_file()
    model, document = _export_and_predict(tmp_path, run_dir)
    assert "NonMaxSuppression" in {node.op_type for node in model.graph.node}
    assert [o.name for o in model.graph.output] == ["boxes", "scores", "classes", "batch_index"]
    assert document["task"] == "detection" and len(document["predictions"]) == 2
    for entry in document["predictions"]:
        assert Path(entry["picture"]).is_file()
        for d in entry["detections"]:
            x1, y1, x2, y2 = d["box"]
            assert 0 <= x1 <= x2 <= 32 and 0 <= y1 <= y2 <= 32 and 0.01 < d["score"] <= 1


@pytest.mark.slow
def test_a_segmenter_trains_reports_iou_exports_a_mask_and_predicts_it(tmp_path: Path) -> None:
    run_dir, test = _train(tmp_path, SEGMENTER)
    assert 0 <= test["mean_iou"] <= 1 and len(test["iou_per_class"]) == 11
    assert (run_dir / "masks.png").is_file()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["task"] == "segmentation"  # inferred from the data's target
    model, document = _export_and_predict(tmp_path, run_dir)
    assert [o.name for o in model.graph.output][-1] == "mask"
    assert document["task"] == "segmentation"
    pixels = document["predictions"][0]["pixels"]
    assert sum(pixels.values()) == 32 * 32 and set(pixels) <= {"background", *"0123456789"}
