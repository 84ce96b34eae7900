"""Image tasks beyond classification: per-pixel segmentation (`segmentation`) and box detection
(`detection`, with YOLOv1's objective in `yolo`). Each task module holds its objective, its
metrics (torchmetrics, never hand-written) and its pictures; this module is where the trainer
asks for them, keyed by the train section's `task` (TaskConfig)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from netlang.train.settings import LossConfig, TaskConfig, TrainConfig

if TYPE_CHECKING:
    from netlang.data import DataSplits
    from netlang.data.box_augment import PairedAugment

# the targets each task's data brings (netlang.data.targets)
TARGETS = {"segmentation": "masks", "detection": "boxes"}


def task_loss(config: LossConfig, image: tuple[int, ...]) -> Any:
    """The loss function of `dice` or `yolo` (None for the other losses); `image` is the input
    shape per sample, [C, H, W]."""
    options = config.options
    if config.name == "dice":
        from netlang.train.tasks.segmentation import dice_loss

        weight = float(options.get("ce_weight", 0.0))
        return lambda out, y: dice_loss(out, y, weight)
    if config.name == "yolo":
        from netlang.train.tasks.yolo import Grid, yolo_loss

        boxes, size = int(options.get("boxes", 2)), (int(image[-2]), int(image[-1]))
        coord = float(options.get("lambda_coord", 5.0))
        noobj = float(options.get("lambda_noobj", 0.5))
        return lambda out, y: yolo_loss(
            out, y, Grid.of(tuple(out.shape), boxes, size), coord, noobj
        )
    return None


def task_augment(config: TrainConfig) -> PairedAugment | None:
    """Augmentation that moves the targets too, for segmentation and detection runs."""
    if config.task.name not in TARGETS or not config.augment:
        return None
    from netlang.data.box_augment import make_paired_augment

    return make_paired_augment(list(config.augment), TARGETS[config.task.name])


def task_report(
    module: torch.nn.Module,
    config: TrainConfig,
    splits: DataSplits,
    run_dir: Path,
    *,
    loader: Any,
    device: torch.device,
    log: Any,
) -> dict[str, Any] | None:
    """The task's test metrics (for test.json) and pictures; None for classification."""
    classes = list(splits.classes or [])
    if config.task.name == "segmentation":
        from netlang.train.tasks import segmentation

        return segmentation.report(
            module, splits.test, classes, run_dir, batch=config.batch, loader=loader,
            device=device, log=log,
        )  # fmt: skip
    if config.task.name == "detection":
        from netlang.train.tasks import detection

        grid = detection_grid(module, config, splits.input_shape, device)
        return detection.report(
            module, splits.test, classes, run_dir, grid, batch=config.batch, loader=loader,
            device=device, log=log, thresholds=thresholds(config.task),
        )  # fmt: skip
    return None


def detection_grid(
    module: torch.nn.Module, config: TrainConfig, input_shape: tuple[int, ...], device: torch.device
) -> Any:
    """The YOLO grid layout of `module`'s output, read from one forward pass."""
    from netlang.train.tasks.yolo import Grid

    with torch.no_grad():
        was_training = module.training
        module.eval()
        out = module(torch.zeros(1, *input_shape, device=device))
        module.train(was_training)
    out = out[0] if isinstance(out, (tuple, list)) else out
    boxes = int(config.loss.options.get("boxes", 2))
    return Grid.of(tuple(out.shape), boxes, (int(input_shape[-2]), int(input_shape[-1])))


def thresholds(task: TaskConfig) -> Any:
    """The detection settings of `task detection(score, iou, max_per_class)`."""
    from netlang.train.tasks.detection import Thresholds

    default = Thresholds()
    options = task.options
    return Thresholds(
        float(options.get("score", default.score)),
        float(options.get("iou", default.iou)),
        int(options.get("max_per_class", default.per_class)),
    )
