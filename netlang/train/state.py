"""The state of one training run: what the epoch loop reads and mutates, and how it is made.

`RunState` is the resume checkpoint's content (its state_dict) plus the live objects that act on
it (module, optimiser, schedule, tracker); `prepare` builds it from a module and a config.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from netlang.train import checkpoint as ckpt
from netlang.train.config import TrainConfig
from netlang.train.distributed import World
from netlang.train.early_stop import EarlyStopping
from netlang.train.objective import LossFn, build_loss, penalised_weights
from netlang.train.optim import LRSchedule, build_optimizer
from netlang.train.transfer import StagePlan

if TYPE_CHECKING:
    from netlang.data import DataSplits
    from netlang.tasks.base import Task

Log = Callable[[str], Any]


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and batch."""


@dataclass
class TrainResult:
    run_dir: Path
    history: list[dict[str, Any]]
    best_epoch: int | None  # 1-based epoch whose weights best.safetensors holds
    stop_reason: str  # "completed" | "early_stop" | "interrupted"
    test: dict[str, Any] | None = None  # test.json's content, when there was a test split


@dataclass
class RunState:
    """Everything the epoch loop reads and mutates; its state_dict is the resume checkpoint."""

    module: torch.nn.Module
    forward: torch.nn.Module  # what training steps call: module, or DDP around it
    config: TrainConfig
    device: torch.device
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    scaler: torch.amp.GradScaler
    tracker: EarlyStopping
    loss_fn: LossFn
    augment: Callable[..., Any] | None  # (x, g) -> x, or (x, y, g) -> (x, y) for boxes/masks
    weights: list[torch.nn.Parameter]
    examples: int
    world: World
    task: Task
    epoch: int = 0  # epochs finished
    batch: int = 0  # batches finished in the current epoch
    sums: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("loss", "correct", "counted", "samples", "seconds"), 0.0
        )
    )
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, torch.Tensor] | None = None
    best_unsaved: bool = False  # a new best not yet in a checkpoint
    best_sha256: str | None = None  # of the best weights file the last checkpoint belongs with
    in_step: bool = False
    # (batch index, samples, counted, [loss, correct]) per trained batch not yet read back
    pending: list[tuple[int, int, int, torch.Tensor]] = field(default_factory=list)
    plan: StagePlan | None = None  # a staged run's stages (None: one plain stage)
    stage: int = 0  # the stage running now
    stage_start: int = 0  # the run epoch it started at
    output_names: tuple[str, ...] = ()  # the model's outputs (the IR's), for the task's pictures
    trackers: list[Any] = field(default_factory=list)  # netlang.train.tracking, rank 0 only

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "batch": self.batch,
            "sums": dict(self.sums),
            "history": self.history,
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "tracker": self.tracker.state_dict(),
            "rng": ckpt.rng_state(),
            "stage": self.stage,
            "stage_start": self.stage_start,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.batch = state["epoch"], state["batch"]
        self.sums, self.history = dict(state["sums"]), list(state["history"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        self.tracker.load_state_dict(state["tracker"])
        self.schedule.start_epoch(self.epoch)
        ckpt.set_rng_state(state["rng"])

    def flush(self) -> None:
        """Read the queued batch results (one wait for the device), stop on the first non-finite
        loss, and add them to the sums batch by batch, so the sums do not depend on when this
        ran."""
        if not self.pending:
            return
        values = torch.stack([stats for *_, stats in self.pending]).tolist()
        for (batch, samples, counted, _), (loss, correct) in zip(self.pending, values):
            if not math.isfinite(loss):
                raise NonFiniteLoss(
                    f"the loss became {loss} in epoch {self.epoch + 1}, batch {batch + 1}; try a "
                    "lower learning rate, gradient clipping (clip), or check the data for NaNs"
                )
            self.sums["loss"] += loss * samples
            self.sums["samples"] += samples
            self.sums["correct"] += correct
            self.sums["counted"] += counted
        self.pending.clear()

    def placed(self, x: Any) -> Any:
        """A batch of inputs (a tensor, or a tuple for several inputs) on the run's device,
        NHWC when training channels_last."""
        from netlang.data.inputs import to_device

        return to_device(x, self.device, self.config.channels_last)

    def running(self) -> tuple[int, float, float | None]:
        """(samples, mean loss, accuracy) so far this epoch, for the progress bar."""
        sums = self.sums
        return (
            int(sums["samples"]),
            sums["loss"] / max(sums["samples"], 1),
            sums["correct"] / sums["counted"] if sums["counted"] else None,
        )


def settle(config: TrainConfig, splits: DataSplits) -> tuple[Task, TrainConfig, DataSplits]:
    """The run's task (declared, or inferred from the targets), the config with the task and its
    default loss filled in, and the splits with the task's targets."""
    from dataclasses import replace

    from netlang.tasks import get_task, infer_task
    from netlang.train.config import LossConfig

    loss = config.loss.name if config.loss else None
    task = get_task(infer_task(config.task, loss, splits))
    config = replace(config, task=task.name, loss=config.loss or LossConfig(task.default_loss))
    return task, config, task.prepare(splits)


def device_for(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but torch sees no CUDA device")
    return torch.device(name)


def prepare(
    module: torch.nn.Module,
    splits: DataSplits,
    config: TrainConfig,
    device: torch.device,
    weight_names: Collection[str] | None,
    world: World,
    task: Task,
) -> RunState:
    """The live run; `config` is settled (its task and loss filled in, netlang.tasks.settle)."""
    from netlang.data import make_augment

    assert config.loss is not None, "settle the config's task first"

    module.to(device).train()
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, config.optimizer)
    tracker = tracker_for(config, splits)
    amp = config.amp and device.type == "cuda"
    if config.channels_last:  # conv weights NHWC; the inputs follow in `placed`
        module.to(memory_format=torch.channels_last)
    forward = world.wrap(module, device, config.sync_bn)
    if config.compile:
        forward = torch.compile(forward)
    return RunState(
        module,
        forward,
        config,
        device,
        optimizer,
        LRSchedule(optimizer, config.schedule, config.epochs),
        torch.amp.GradScaler(device.type, enabled=amp),
        tracker,
        task.objective(
            config.loss.name,
            config.loss.options,
            build_loss(config.loss, device, splits.input_shape),
        ),
        task.augment(list(config.augment), config)
        or (make_augment(list(config.augment)) if config.augment else None),
        penalised_weights(module, weight_names),
        len(splits.train),
        world,
        task,
    )


def tracker_for(config: TrainConfig, splits: DataSplits) -> EarlyStopping:
    monitor = monitor_for(config, splits)
    stop = config.early_stop
    return EarlyStopping(
        monitor,
        stop.mode if stop else _mode(monitor),
        stop.patience if stop else None,
        stop.min_delta if stop else 0.0,
    )


def monitor_for(config: TrainConfig, splits: DataSplits) -> str:
    """The metric that picks the best epoch: early stopping's, else val_loss (or train_loss)."""
    monitored = [config.early_stop.monitor] if config.early_stop else []
    if config.schedule.name == "plateau":
        monitored.append(str(config.schedule.options.get("monitor", "val_loss")))
    missing = [m for m in monitored if m.startswith("val_")]
    if splits.val is None and missing:
        raise ValueError(
            f"{missing[0]} needs a validation split, and the data has none: "
            "give the data a split with a val part"
        )
    if config.early_stop:
        return config.early_stop.monitor
    return "val_loss" if splits.val is not None else "train_loss"


def _mode(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"
