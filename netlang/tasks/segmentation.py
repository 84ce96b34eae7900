"""Segmentation: per-pixel class scores [N, C, H, W] + masks [N, H, W] (0 the background) ->
cross-entropy or Dice loss, pixel accuracy per epoch, mean IoU on the test split (torchmetrics'
MulticlassJaccardIndex) and masks.png (input, true mask, predicted mask).

Dice is the soft Dice loss of Milletari et al. (V-Net, 3DV 2016) on the softmax probabilities,
averaged over the classes; `loss dice(ce_weight=1)` adds cross-entropy to it, as is usual.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from netlang.runtime.pictures import draw_mask, save_grid, to_rgb
from netlang.tasks.base import Task, TestContext

_SMOOTH = 1.0  # keeps the Dice ratio defined for a class absent from prediction and target


def dice_loss(out: torch.Tensor, y: torch.Tensor, ce_weight: float = 0.0) -> torch.Tensor:
    """1 - mean over classes of (2 |P . T| + 1) / (|P| + |T| + 1), plus ce_weight x CE."""
    if out.dim() != 4 or y.dim() != 3:
        raise ValueError(
            f"dice needs [N, C, H, W] scores and [N, H, W] masks, got {list(out.shape)} and "
            f"{list(y.shape)}"
        )
    probs = out.float().softmax(1)
    truth = F.one_hot(y.long(), out.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * truth).sum((0, 2, 3))
    total = probs.sum((0, 2, 3)) + truth.sum((0, 2, 3))
    loss = 1 - ((2 * inter + _SMOOTH) / (total + _SMOOTH)).mean()
    if ce_weight:
        loss = loss + ce_weight * F.cross_entropy(out.float(), y.long())
    return loss


@torch.no_grad()
def predict_masks(
    module: torch.nn.Module, dataset: Any, *, batch: int, loader: Any, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted, true) masks of the whole data set, in eval mode (restored after)."""
    was_training = module.training
    module.eval()
    predicted, truth = [], []
    try:
        for x, y in loader(dataset, batch, shuffle=False, seed=0):
            out = module(torch.as_tensor(x).to(device))
            out = out[0] if isinstance(out, (tuple, list)) else out
            predicted.append(out.argmax(1).cpu())
            truth.append(torch.as_tensor(y).long())
    finally:
        module.train(was_training)
    return torch.cat(predicted), torch.cat(truth)


def mean_iou(predicted: torch.Tensor, truth: torch.Tensor, classes: int) -> dict[str, Any]:
    """Mean IoU over the classes that occur (in truth or prediction) and per class
    (torchmetrics), and pixel accuracy."""
    from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

    per_class = MulticlassJaccardIndex(classes, average="none")(predicted, truth)
    # a class neither true nor predicted anywhere has no IoU (0/0) and is left out of the mean
    present = (
        torch.bincount(truth.flatten(), minlength=classes)
        + torch.bincount(predicted.flatten(), minlength=classes)
    ) > 0
    pixel = MulticlassAccuracy(classes, average="micro")(predicted, truth)
    return {
        "mean_iou": float(per_class[present].mean()),
        "mean_iou_foreground": float(per_class[1:][present[1:]].mean()),
        "iou_per_class": [float(v) if p else None for v, p in zip(per_class, present)],
        "pixel_accuracy": float(pixel),
    }


class Segmentation(Task):
    name = "segmentation"
    default_loss = "cross_entropy"
    metric = "accuracy"  # of pixels

    def batch_metric(
        self, out: torch.Tensor, y: torch.Tensor, loss: str
    ) -> tuple[torch.Tensor, int] | None:
        return (out.argmax(1) == y).sum(), y.numel()

    def augment(self, calls: list[Any], config: Any) -> Any:
        from netlang.data.box_augment import make_paired_augment

        return make_paired_augment(calls, "masks") if calls else None

    def report(self, context: TestContext) -> dict[str, Any]:
        return report(
            context.module,
            context.dataset,
            list(context.splits.classes or []),
            context.run_dir,
            batch=context.batch,
            loader=context.loader,
            device=context.device,
            log=context.log,
            split=context.split,
        )


def report(
    module: torch.nn.Module,
    dataset: Any,
    classes: list[str],
    run_dir: Path,
    *,
    batch: int,
    loader: Any,
    device: torch.device,
    log: Any,
    pictures: int = 8,
    split: str = "test",
) -> dict[str, Any]:
    """mean IoU on `dataset` (logged, returned for test.json) and masks.png: input, true mask,
    predicted mask for the first `pictures` samples."""
    predicted, truth = predict_masks(module, dataset, batch=batch, loader=loader, device=device)
    # a model may score more classes than the data names (and predict them)
    count = max(len(classes), int(truth.max()) + 1, int(predicted.max()) + 1)
    result = mean_iou(predicted, truth, count)
    result["examples"] = len(truth)
    log(
        f"{split}: mean IoU {100 * result['mean_iou']:.2f}% ({len(classes)} classes; "
        f"{100 * result['mean_iou_foreground']:.2f}% without the background), pixel accuracy "
        f"{100 * result['pixel_accuracy']:.2f}%"
    )
    rows = []
    for i in range(min(pictures, len(dataset))):
        image = np.asarray(dataset.x[i])
        rows.append(
            [
                to_rgb(image, 4),
                draw_mask(image, truth[i].numpy()),
                draw_mask(image, predicted[i].numpy()),
            ]
        )
    save_grid(run_dir / "masks.png", rows)
    return result


TASK = Segmentation()
