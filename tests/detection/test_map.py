"""mAP as the detection report computes it (torchmetrics) equals pycocotools' COCOeval run by
hand on the same detections written as COCO JSON; perfect detections score 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netlang.tasks.detection import mean_average_precision

pytest.importorskip("pycocotools")
CLASSES = ["a", "b", "c"]


def _scenes(seed: int) -> tuple[list[dict], list[dict]]:
    """Truth boxes and noisy detections of them (plus some false alarms), for 12 images."""
    rng = np.random.default_rng(seed)
    predicted, truth = [], []
    for _ in range(12):
        k = int(rng.integers(1, 4))
        corner = rng.uniform(0, 40, (k, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(8, 20, (k, 2))], 1)
        labels = rng.integers(0, 3, k)
        noisy = boxes + rng.normal(0, 2.0, boxes.shape)
        extra = rng.uniform(0, 50, (2, 2))
        noisy = np.concatenate([noisy, np.concatenate([extra, extra + 10], 1)])
        truth.append(
            {"boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.tensor(labels)}
        )
        predicted.append({
            "boxes": torch.tensor(noisy, dtype=torch.float32),
            "scores": torch.tensor(rng.uniform(0.1, 1.0, k + 2), dtype=torch.float32),
            "labels": torch.tensor(np.concatenate([labels, rng.integers(0, 3, 2)])),
        })  # fmt: skip
    return predicted, truth


def _cocoeval(predicted: list[dict], truth: list[dict]) -> tuple[float, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(box: torch.Tensor) -> list[float]:
        x1, y1, x2, y2 = (float(v) for v in box)
        return [x1, y1, x2 - x1, y2 - y1]

    annotations = []
    for i, t in enumerate(truth):
        for b, c in zip(t["boxes"], t["labels"]):
            box = xywh(b)
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i, "category_id": int(c), "bbox": box,
                 "area": box[2] * box[3], "iscrowd": 0}
            )  # fmt: skip
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i} for i in range(len(truth))],
        "annotations": annotations,
        "categories": [{"id": c} for c in range(len(CLASSES))],
    }
    gt.createIndex()
    detections = [
        {"image_id": i, "category_id": int(c), "bbox": xywh(b), "score": float(s)}
        for i, p in enumerate(predicted)
        for b, c, s in zip(p["boxes"], p["labels"], p["scores"])
    ]
    evaluation = COCOeval(gt, gt.loadRes(detections), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0]), float(evaluation.stats[1])


@pytest.mark.parametrize("seed", [0, 1])
def test_map_equals_cocoeval_on_the_same_detections(seed: int) -> None:
    predicted, truth = _scenes(seed)
    result = mean_average_precision(predicted, truth, CLASSES)
    map_all, map_50 = _cocoeval(predicted, truth)
    # torchmetrics hands pycocotools float32 boxes, this test float64 ones: an IoU right at a
    # threshold may fall either side, which moves the mean by a few 1e-4
    assert result["map"] == pytest.approx(map_all, abs=1e-3)
    assert result["map_50"] == pytest.approx(map_50, abs=1e-3)
    assert 0 < result["map"] < result["map_50"] < 1
    assert set(result["ap_per_class"]) <= set(CLASSES)


def test_perfect_detections_score_one() -> None:
    _, truth = _scenes(0)
    perfect = [{**t, "scores": torch.ones(len(t["labels"]))} for t in truth]
    result = mean_average_precision(perfect, truth, CLASSES)
    assert result["map"] == pytest.approx(1.0) and result["map_50"] == pytest.approx(1.0)
