"""The detection and segmentation examples as shipped, cut to one epoch: train, export, predict
through the CLI, with the run directory's pictures and the printed boxes and masks. (The full
runs and their mAP / IoU are in bench/detection_results.md.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from netlang.cli import main

pytest.importorskip("torchvision")
pytest.importorskip("pycocotools")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _scene(path: Path) -> Path:
    """A 64x64 grey scene with one bright block, as a user's PNG would come."""
    pixels = np.zeros((64, 64), np.uint8)
    pixels[20:40, 24:36] = 255
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("example", "picture", "printed"),
    [("yolo_digits", "detections.png", "->"), ("segment_digits", "masks.png", "px  background")],
)
def test_example_trains_an_epoch_exports_and_predicts(
    tmp_path: Path, example: str, picture: str, printed: str
) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a shared 2-core machine one thread is faster for these sizes
    try:
        runner = CliRunner()
        run = tmp_path / "run"
        trained = runner.invoke(
            main, ["train", str(EXAMPLES / f"{example}.net"), "--epochs", "1", "--out", str(run)]
        )
        assert trained.exit_code == 0, trained.output
        assert (run / picture).is_file() and (run / "test.json").is_file()
        exported = runner.invoke(main, ["export", str(run), "-o", str(tmp_path / "m.onnx")])
        assert exported.exit_code == 0, exported.output
        predicted = runner.invoke(
            main,
            ["predict", str(tmp_path / "m.onnx"), str(_scene(tmp_path / "scene.png")),
             "--out", str(tmp_path / "drawn")],
        )  # fmt: skip
        assert predicted.exit_code == 0, predicted.output
        assert printed in predicted.output
        assert len(list((tmp_path / "drawn").glob("*.png"))) == 1
    finally:
        torch.set_num_threads(threads)
