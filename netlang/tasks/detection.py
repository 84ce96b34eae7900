"""Detection: a YOLO grid [N, S, S, 5B + C] + padded boxes [N, M, 5] -> YOLOv1's loss, and on
the test split decoded, suppressed detections, mAP@0.5 and mAP@0.5:0.95 with AP per class
(torchmetrics' MeanAveragePrecision with the COCO evaluator) and detections.png (true boxes beside
the detected ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netlang.tasks import yolo
from netlang.tasks.base import Task, TestContext
from netlang.runtime.pictures import draw_boxes, save_grid


@dataclass(frozen=True)
class Thresholds:
    """What counts as a detection: score above `score`, NMS at `iou`, `per_class` per image."""

    score: float = 0.05
    iou: float = 0.5
    per_class: int = 20


# detections.png shows boxes scoring at least this (YOLOv1's scores, confidence x class score,
# run lower than a softmax's)
SHOWN_SCORE = 0.15
Detections = list[dict[str, torch.Tensor]]  # per image: boxes [k, 4], scores [k], labels [k]


@torch.no_grad()
def detect(
    module: torch.nn.Module,
    dataset: Any,
    grid: yolo.Grid,
    thresholds: Thresholds,
    *,
    batch: int,
    loader: Any,
    device: torch.device,
) -> tuple[Detections, Detections]:
    """(predicted, true) boxes per image of `dataset`, in eval mode (restored after)."""
    was_training = module.training
    module.eval()
    predicted: Detections = []
    truth: Detections = []
    try:
        for x, y in loader(dataset, batch, shuffle=False, seed=0):
            out = module(torch.as_tensor(x).to(device))
            out = out[0] if isinstance(out, (tuple, list)) else out
            for boxes, scores, classes in zip(*yolo.decode(out.cpu(), grid)):
                keep = yolo.suppress(
                    boxes,
                    scores,
                    classes,
                    iou=thresholds.iou,
                    score=thresholds.score,
                    per_class=thresholds.per_class,
                )
                predicted.append(
                    {"boxes": boxes[keep], "scores": scores[keep], "labels": classes[keep]}
                )
            for row in torch.as_tensor(y):
                valid = row[:, 4] >= 0
                truth.append({"boxes": row[valid, :4].float(), "labels": row[valid, 4].long()})
    finally:
        module.train(was_training)
    return predicted, truth


def mean_average_precision(
    predicted: Detections, truth: Detections, classes: list[str]
) -> dict[str, Any]:
    """COCO-style mAP@0.5:0.95, mAP@0.5, mAP@0.75 and AP@0.5:0.95 per class (torchmetrics,
    pycocotools backend)."""
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(
        box_format="xyxy", iou_type="bbox", class_metrics=True, backend="pycocotools"
    )
    metric.update(predicted, truth)
    result = metric.compute()
    per_class = {
        (classes[int(c)] if int(c) < len(classes) else str(int(c))): float(v)
        for c, v in zip(result["classes"].reshape(-1), result["map_per_class"].reshape(-1))
    }
    return {
        "map": float(result["map"]),
        "map_50": float(result["map_50"]),
        "map_75": float(result["map_75"]),
        "ap_per_class": per_class,
    }


class Detection(Task):
    name = "detection"
    default_loss = "yolo"
    metric = "accuracy"  # none per epoch: the loss is what there is; mAP on the test split

    def augment(self, calls: list[Any], config: Any) -> Any:
        from netlang.data.box_augment import make_paired_augment

        return make_paired_augment(calls, "boxes") if calls else None

    def report(self, context: TestContext) -> dict[str, Any]:
        image = tuple(int(d) for d in context.dataset.x.shape[-2:])
        grid = grid_of(context.module, context.dataset.x[:1], context)
        options, default = context.task_options, Thresholds()
        thresholds = Thresholds(
            float(options.get("score", default.score)),
            float(options.get("iou", default.iou)),
            int(options.get("max_per_class", default.per_class)),
        )
        result = report(
            context.module,
            context.dataset,
            list(context.splits.classes or []),
            context.run_dir,
            yolo.Grid(grid.cells, grid.boxes, grid.classes, image),  # type: ignore[arg-type]
            batch=context.batch,
            loader=context.loader,
            device=context.device,
            log=context.log,
            thresholds=thresholds,
        )
        return {"examples": len(context.dataset), **result}


@torch.no_grad()
def grid_of(module: torch.nn.Module, sample: np.ndarray, context: TestContext) -> yolo.Grid:
    """The grid layout of `module`'s output, read from one forward pass in eval mode."""
    was_training = module.training
    module.eval()
    try:
        out = module(torch.as_tensor(sample).to(context.device))
    finally:
        module.train(was_training)
    out = out[0] if isinstance(out, (tuple, list)) else out
    boxes = int(context.loss_options.get("boxes", 2))
    return yolo.Grid.of(tuple(out.shape), boxes, tuple(sample.shape[-2:]))  # type: ignore[arg-type]


def report(
    module: torch.nn.Module,
    dataset: Any,
    classes: list[str],
    run_dir: Path,
    grid: yolo.Grid,
    *,
    batch: int,
    loader: Any,
    device: torch.device,
    log: Any,
    thresholds: Thresholds = Thresholds(),
    pictures: int = 8,
) -> dict[str, Any]:
    """mAP on `dataset` (logged, returned for test.json) and detections.png: true boxes beside
    the detections scoring 0.15 or more for the first `pictures` images."""
    predicted, truth = detect(
        module, dataset, grid, thresholds, batch=batch, loader=loader, device=device
    )
    result = mean_average_precision(predicted, truth, classes)
    log(
        f"test: mAP@0.5 {100 * result['map_50']:.2f}%, mAP@0.5:0.95 {100 * result['map']:.2f}% "
        f"on {len(truth)} images"
    )
    rows = []
    for i in range(min(pictures, len(dataset))):
        image, p, t = np.asarray(dataset.x[i]), predicted[i], truth[i]
        shown = p["scores"] >= SHOWN_SCORE
        rows.append(
            [
                draw_boxes(image, t["boxes"].numpy(), t["labels"].tolist(), None, classes),
                draw_boxes(
                    image,
                    p["boxes"][shown].numpy(),
                    p["labels"][shown].tolist(),
                    p["scores"][shown].tolist(),
                    classes,
                ),
            ]
        )
    save_grid(run_dir / "detections.png", rows)
    return result


TASK = Detection()
