"""Evaluation: a module and a Dataset -> mean loss, accuracy and (for tests) a confusion matrix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from netlang.train.objective import LossFn, count_correct

# netlang.data.make_loader's signature: (dataset, batch, *, shuffle, seed, epoch, augment) -> an
# iterable of (x, y) batches that has a len()
MakeLoader = Callable[..., Any]


@dataclass
class Evaluation:
    loss: float
    accuracy: float | None
    predictions: torch.Tensor | None  # predicted class per sample (classification only)
    targets: torch.Tensor


def first_output(out: Any) -> torch.Tensor:
    """A model with several outputs trains and is evaluated on its first."""
    return out[0] if isinstance(out, (tuple, list)) else out


@torch.no_grad()
def evaluate(
    module: torch.nn.Module,
    dataset: Any,
    *,
    loss_fn: LossFn,
    loss_name: str,
    batch: int,
    loader: MakeLoader,
    device: torch.device,
) -> Evaluation:
    """Mean loss and accuracy over `dataset` in eval mode; the module's mode is restored after."""
    was_training = module.training
    module.eval()
    total, correct, counted, seen = 0.0, 0, 0, 0
    predictions, targets = [], []
    try:
        for x, y in loader(dataset, batch, shuffle=False, seed=0):
            x, y = torch.as_tensor(x).to(device), torch.as_tensor(y).to(device)
            out = first_output(module(x))
            total += float(loss_fn(out, y)) * len(y)
            seen += len(y)
            counts = count_correct(out, y, loss_name)
            if counts is not None:
                correct, counted = correct + int(counts[0]), counted + counts[1]
            if counts is not None and out.dim() == 2 and out.shape[1] > 1:
                predictions.append(out.argmax(1).cpu())
            targets.append(y.cpu())
    finally:
        module.train(was_training)
    return Evaluation(
        total / max(seen, 1),
        correct / counted if counted else None,
        torch.cat(predictions) if predictions else None,
        torch.cat(targets),
    )


def confusion_matrix(evaluation: Evaluation, classes: int) -> list[list[int]]:
    """counts[true][predicted] over the evaluated samples."""
    assert evaluation.predictions is not None
    pairs = evaluation.targets.long() * classes + evaluation.predictions.long()
    counts = torch.bincount(pairs, minlength=classes * classes).reshape(classes, classes)
    return counts.tolist()
