"""What a resolved training configuration is: plain, frozen data with every default.

`TrainConfig` and its parts are what `resolve_config` (config.py) returns and what config.json
holds; no checking and no torch here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from netlang.semantics.train_spec import Call, to_json

OVERRIDES = ("epochs", "batch", "lr", "device", "amp", "channels_last", "compile", "seed", "out")
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}


@dataclass(frozen=True, slots=True)
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-3
    options: dict[str, Any] = field(default_factory=dict)  # momentum, betas, weight_decay, ...


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """A per-epoch learning-rate schedule, after `warmup` epochs of linear warm-up."""

    name: str = "none"  # none | step | cosine | plateau
    warmup: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LossConfig:
    name: str = "cross_entropy"
    options: dict[str, Any] = field(default_factory=dict)  # label_smoothing, pos_weight


@dataclass(frozen=True, slots=True)
class Penalty:
    kind: str  # "l1" | "l2"
    strength: float


@dataclass(frozen=True, slots=True)
class EarlyStopConfig:
    monitor: str = "val_loss"
    mode: str = "min"
    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True


@dataclass(frozen=True, slots=True)
class StageConfig:
    """One stage of a staged run: its length, optimiser, schedule, stopping rule, frozen layers
    (patterns, see netlang.train.transfer), learning-rate multipliers and batch-norm mode."""

    name: str
    epochs: int
    optimizer: OptimizerConfig
    schedule: ScheduleConfig
    early_stop: EarlyStopConfig | None
    freeze: tuple[str, ...] = ()
    unfreeze: tuple[str, ...] = ()
    lr_mult: dict[str, float] = field(default_factory=dict)
    bn: str = "frozen"  # frozen: frozen batch-norm layers stay in eval mode | trainable


@dataclass(frozen=True, slots=True)
class TrainConfig:
    model: str
    task: str | None = None  # None: inferred from the data (netlang.tasks.infer_task)
    task_options: dict[str, Any] = field(default_factory=dict)  # detection: score, iou, ...
    data: Call | None = None
    test_data: Call | None = None
    batch: int = 32
    epochs: int = 10
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig | None = None  # None: the task's default loss
    penalties: tuple[Penalty, ...] = ()
    early_stop: EarlyStopConfig | None = None
    normalize: str = "standardize"  # standardize | unit | none
    tokenize: Call | None = None  # text data: words(...) | bpe(...); words() when not given
    augment: tuple[Call, ...] = ()
    init: Call | None = None
    clip: float | None = None  # max global gradient norm
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    channels_last: bool = False  # train in the NHWC memory format (4-D inputs, conv weights)
    compile: bool = False  # run the forward through torch.compile
    classes: tuple[str, ...] | None = None
    val_every: int = 1
    sync_bn: bool = False  # batch norm statistics over all processes' batches (distributed)
    out: str | None = None
    weights: str | None = None  # checkpoint to start from, relative to the .net file
    replace: tuple[str, ...] = ()  # layers initialised anew instead of loaded
    freeze: tuple[str, ...] = ()
    unfreeze: tuple[str, ...] = ()
    lr_mult: dict[str, float] = field(default_factory=dict)
    bn: str = "frozen"
    stages: tuple[StageConfig, ...] = ()  # empty: one implicit stage from the fields above
    inputs: tuple[str, ...] = ()  # a model of several inputs: their names, which the data feeds

    @property
    def staged(self) -> bool:
        """Whether the run needs the stage machinery (stages, frozen layers or multipliers)."""
        return bool(self.stages or self.freeze or self.lr_mult)

    def plan(self) -> tuple[StageConfig, ...]:
        """The stages to run in order: the declared ones, or the whole run as one stage."""
        return self.stages or (
            StageConfig(
                "main",
                self.epochs,
                self.optimizer,
                self.schedule,
                self.early_stop,
                self.freeze,
                self.unfreeze,
                dict(self.lr_mult),
                self.bn,
            ),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (calls as {"call", "args", "kwargs"}), for config.json."""
        shown = [f for f in fields(self) if f.name != "inputs" or self.inputs]
        return {f.name: jsonable(getattr(self, f.name)) for f in shown}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)


def jsonable(value: Any) -> Any:
    if isinstance(value, Call):
        return value.to_json()
    if hasattr(value, "__dataclass_fields__"):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return to_json(value)
