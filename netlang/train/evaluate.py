"""Validation: a module and a Dataset -> mean loss and the task's metric (accuracy, MAE, ...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from netlang.data.inputs import arguments, to_device
from netlang.train.objective import LossFn

# netlang.data.make_loader's signature: (dataset, batch, *, shuffle, seed, epoch, augment) -> an
# iterable of (x, y) batches that has a len()
MakeLoader = Callable[..., Any]
# (outputs, targets) -> (sum, count) of the task's metric in a batch, or None (netlang.tasks)
BatchMetric = Callable[[torch.Tensor, torch.Tensor], "tuple[torch.Tensor, int] | None"]


@dataclass
class Evaluation:
    loss: float
    metric: float | None  # the task's per-epoch metric over the data set
    counted: int  # how many values the metric averages (samples, tokens, pixels)
    seen: int  # samples


def first_output(out: Any) -> torch.Tensor:
    """A model with several outputs trains and is evaluated on its first."""
    return out[0] if isinstance(out, (tuple, list)) else out


@torch.no_grad()
def evaluate(
    module: torch.nn.Module,
    dataset: Any,
    *,
    loss_fn: LossFn,
    metric: BatchMetric,
    batch: int,
    loader: MakeLoader,
    device: torch.device,
) -> Evaluation:
    """Mean loss and metric over `dataset` in eval mode; the module's mode is restored after."""
    was_training = module.training
    module.eval()
    total, summed, counted, seen = 0.0, 0.0, 0, 0
    try:
        for x, y in loader(dataset, batch, shuffle=False, seed=0):
            x, y = to_device(x, device), torch.as_tensor(y).to(device)
            out = first_output(module(*arguments(x)))
            total += float(loss_fn(out, y)) * len(y)
            seen += len(y)
            counts = metric(out, y)
            if counts is not None:
                summed, counted = summed + float(counts[0]), counted + counts[1]
    finally:
        module.train(was_training)
    return Evaluation(total / max(seen, 1), summed / counted if counted else None, counted, seen)
