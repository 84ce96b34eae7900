"""Optimisers and learning-rate schedules: OptimizerConfig / ScheduleConfig -> torch optimiser /
LRSchedule.

The schedule is per epoch and computed in closed form from the epoch number, so that resuming needs
only the plateau state; linear warm-up composes with every schedule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from netlang.train.config import OptimizerConfig, ScheduleConfig

# Reduce-on-plateau: a relative improvement threshold, as torch's ReduceLROnPlateau defaults to.
PLATEAU_THRESHOLD = 1e-4


def build_optimizer(
    params: Iterable[torch.nn.Parameter], config: OptimizerConfig
) -> torch.optim.Optimizer:
    """The configured torch optimiser over `params` (sgd, adam, adamw or rmsprop)."""
    options: dict[str, Any] = dict(config.options)
    match config.name:
        case "sgd":
            return torch.optim.SGD(params, lr=config.lr, **options)
        case "adam":
            return torch.optim.Adam(params, lr=config.lr, **options)
        case "adamw":
            return torch.optim.AdamW(params, lr=config.lr, **options)
        case "rmsprop":
            return torch.optim.RMSprop(params, lr=config.lr, **options)
    raise ValueError(f"unknown optimizer {config.name!r}")


class LRSchedule:
    """Sets every parameter group's learning rate at the start of each epoch.

    lr(epoch) = warmup(epoch) * schedule(epoch), where warm-up ramps linearly, (e+1)/(W+1) for the
    first W epochs, and `schedule` is constant, step (gamma ** (t // step_size)), cosine (from the
    base rate down to min_lr over the remaining epochs) or plateau (multiplied by `factor` after
    `patience` epochs without improvement of the monitored metric), t counting epochs after warm-up.
    A later stage of a staged run passes `start`, the run epoch its own first epoch is.
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, config: ScheduleConfig, epochs: int, start: int = 0
    ) -> None:
        self.optimizer = optimizer
        self.config = config
        self.epochs = epochs
        self.start = start
        self.base = [float(group["lr"]) for group in optimizer.param_groups]
        self.plateau_lr = list(self.base)
        self.best: float | None = None
        self.bad_epochs = 0
        self.start_epoch(start)

    @property
    def monitor(self) -> str:
        return str(self.config.options.get("monitor", "val_loss"))

    def start_epoch(self, epoch: int) -> None:
        """Set the learning rate for run epoch `epoch` (0-based)."""
        for group, lr in zip(self.optimizer.param_groups, self.rates(epoch - self.start)):
            group["lr"] = lr

    def rates(self, epoch: int) -> list[float]:
        warmup = self.config.warmup
        ramp = (epoch + 1) / (warmup + 1) if epoch < warmup else 1.0
        t = max(0, epoch - warmup)
        return [ramp * self._scheduled(i, t) for i in range(len(self.base))]

    def _scheduled(self, group: int, t: int) -> float:
        options, base = self.config.options, self.base[group]
        match self.config.name:
            case "step":
                return base * options.get("gamma", 0.1) ** (t // options.get("step_size", 10))
            case "cosine":
                span = max(1, self.epochs - self.config.warmup)
                low = options.get("min_lr", 0.0)
                return low + (base - low) * (1 + math.cos(math.pi * min(t, span) / span)) / 2
            case "plateau":
                return self.plateau_lr[group]
        return base

    def end_epoch(self, epoch: int, metrics: dict[str, float | None]) -> None:
        """Record the finished `epoch`'s metrics (plateau only) and set the next epoch's rate."""
        value = metrics.get(self.monitor)
        if (
            self.config.name == "plateau"
            and epoch - self.start >= self.config.warmup
            and value is not None
        ):
            self._observe(value)
        self.start_epoch(epoch + 1)

    def _observe(self, value: float) -> None:
        maximize = self.monitor.endswith("accuracy")
        scale = 1 + PLATEAU_THRESHOLD if maximize else 1 - PLATEAU_THRESHOLD
        if self.best is None or (
            value > self.best * scale if maximize else value < self.best * scale
        ):
            self.best, self.bad_epochs = value, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.config.options.get("patience", 10):
            options = self.config.options
            factor, low = options.get("factor", 0.1), options.get("min_lr", 0.0)
            self.plateau_lr = [max(lr * factor, low) for lr in self.plateau_lr]
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "plateau_lr": list(self.plateau_lr),
            "best": self.best,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau_lr = [float(v) for v in state["plateau_lr"]]
        self.best = state["best"]
        self.bad_epochs = int(state["bad_epochs"])
