"""Dice loss by hand, mean IoU (torchmetrics) against a hand count, and pictures of masks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from netlang.tasks import segmentation

pytest.importorskip("torchmetrics")


def test_dice_loss_is_one_minus_the_smoothed_dice_ratio_averaged_over_classes() -> None:
    # two pixels, two classes; scores give probabilities (0.5, 0.5) and (e/(1+e), 1/(1+e))
    out = torch.tensor([[[[0.0, 1.0]], [[0.0, 0.0]]]])  # [1, 2, 1, 2]
    y = torch.tensor([[[0, 0]]])
    p = math.e / (1 + math.e)
    class0 = (2 * (0.5 + p) + 1) / ((0.5 + p) + 2 + 1)
    class1 = (2 * 0 + 1) / ((0.5 + (1 - p)) + 0 + 1)
    expected = 1 - (class0 + class1) / 2
    assert float(segmentation.dice_loss(out, y)) == pytest.approx(float(expected), abs=1e-6)
    with_ce = segmentation.dice_loss(out, y, ce_weight=2.0)
    ce = (math.log(2.0) - math.log(p)) / 2
    assert float(with_ce) == pytest.approx(float(expected + 2 * ce), abs=1e-6)


def test_mean_iou_counts_only_classes_present_in_the_truth() -> None:
    truth = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1]]])
    predicted = torch.tensor([[[0, 0, 0, 1], [0, 0, 1, 2]]])
    result = segmentation.mean_iou(predicted, truth, 4)
    # class 0: 4 / 5; class 1: 2 / 4; class 2 predicted once, never true: IoU 0; class 3 absent
    assert result["iou_per_class"][:2] == pytest.approx([0.8, 0.5])
    assert result["iou_per_class"][3] is None
    assert result["mean_iou"] == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    assert result["mean_iou_foreground"] == pytest.approx(0.25)
    assert result["pixel_accuracy"] == pytest.approx(6 / 8)


def test_report_writes_mask_pictures(tmp_path: Path) -> None:
    from netlang.data import Dataset, make_loader

    x = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64)
    module = torch.nn.Conv2d(1, 2, 1)
    lines: list[str] = []
    result = segmentation.report(
        module,
        Dataset(x, y),
        ["background", "on"],
        tmp_path,
        batch=2,
        loader=make_loader,
        device=torch.device("cpu"),
        log=lines.append,
    )
    assert 0 <= result["mean_iou"] <= 1 and "mean IoU" in lines[0]
    from PIL import Image

    with Image.open(tmp_path / "masks.png") as picture:
        assert picture.size == (3 * 32 + 2 * 4, 3 * 32 + 2 * 4)
