"""Training configuration: a `train` section's entries (TrainSpec) + CLI overrides -> TrainConfig.

Every default lives here, every value is checked here (ValueError naming the key), and the result
is plain data that `to_json()` writes into the run directory. No torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from netlang.semantics.train_schema import SCHEMA
from netlang.semantics.train_spec import Call, Stage, TrainSpec, to_json

# Metrics the loop records each epoch; any of them may be monitored.
METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
# What a `stage { ... }` may set; everything else holds for the whole run.
STAGE_KEYS = (
    "epochs",
    "optimizer",
    "lr",
    "schedule",
    "freeze",
    "unfreeze",
    "lr_mult",
    "bn",
    "early_stop",
)
OVERRIDES = ("epochs", "batch", "lr", "device", "amp", "seed", "out")
DEVICES = ("auto", "cpu", "cuda")
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
    data: Call | None = None
    test_data: Call | None = None
    batch: int = 32
    epochs: int = 10
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    penalties: tuple[Penalty, ...] = ()
    early_stop: EarlyStopConfig | None = None
    normalize: str = "standardize"  # standardize | unit | none
    augment: tuple[Call, ...] = ()
    init: Call | None = None
    clip: float | None = None  # max global gradient norm
    seed: int = 0
    device: str = "auto"
    amp: bool = False
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
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Call):
        return value.to_json()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return to_json(value)


def resolve_config(
    spec: TrainSpec | None, model: str, overrides: Mapping[str, Any] | None = None
) -> TrainConfig:
    """Resolve a train section (or none) and CLI overrides into a checked TrainConfig.

    Args:
        spec: the model's compiled `train` section, or None for all defaults.
        model: the model's name, recorded with the run.
        overrides: CLI values (epochs, batch, lr, device, amp, seed, out); None means "not given".

    Raises:
        ValueError: a value of the wrong kind or range, or a stage setting that cannot change
            within a run.
    """
    entries = dict(spec.entries) if spec is not None else {}
    unknown = sorted(set(entries) - set(SCHEMA))
    if unknown:
        raise ValueError(f"unknown train keys: {', '.join(unknown)}")
    config = TrainConfig(model=model, **{name: build(entries) for name, build in _BUILDERS.items()})
    if config.replace and config.weights is None:
        raise ValueError(
            "train.replace names layers to initialise instead of loading, but "
            "there is no `weights` to load from"
        )
    stages = tuple(_stage(entries, stage) for stage in (spec.stages if spec else []))
    if stages:
        config = replace(config, stages=stages, epochs=sum(s.epochs for s in stages))
    return _apply_overrides(config, dict(overrides or {}))


def _stage(section: dict[str, Any], stage: Stage) -> StageConfig:
    """A stage's settings: its own entries, the section's for the rest."""
    fixed = sorted(set(stage.entries) - set(STAGE_KEYS))
    if fixed:
        raise ValueError(
            f"train: stage {stage.name} sets {', '.join(fixed)}, which holds for "
            f"the whole run; a stage may set {', '.join(STAGE_KEYS)}"
        )
    entries = _inherit(section, stage.entries)
    try:
        return StageConfig(
            stage.name,
            _plain("epochs", _positive_int, 10)(entries),
            _optimizer(entries),
            _schedule(entries),
            _early_stop(entries),
            _patterns("freeze")(entries),
            _patterns("unfreeze")(entries),
            _lr_mult(entries),
            _bn(entries),
        )
    except ValueError as error:
        raise ValueError(f"stage {stage.name}: {error}") from None


def _inherit(section: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """section + stage entries, where a stage's `lr` beats the section optimiser's lr= and a
    stage optimiser with its own lr= beats the section's `lr`."""
    entries = {**section, **own}
    optimizer = entries.get("optimizer")
    if "lr" in own and "optimizer" not in own and optimizer is not None:
        name, options = _bind("optimizer", optimizer)
        options.pop("lr", None)
        entries["optimizer"] = Call(name, (), options)
    if "optimizer" in own and "lr" not in own and "lr" in _bind("optimizer", own["optimizer"])[1]:
        entries.pop("lr", None)
    return entries


def _apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"unknown overrides: {', '.join(unknown)}")
    if "lr" in given and config.stages:
        raise ValueError("--lr: a staged run sets its learning rate per stage; edit the stages")
    if "lr" in given:
        lr = _positive_float("--lr", given.pop("lr"))
        config = replace(config, optimizer=replace(config.optimizer, lr=lr))
    if "epochs" in given and config.stages:
        epochs = _positive_int("--epochs", given.pop("epochs"))
        stages = tuple(replace(stage, epochs=epochs) for stage in config.stages)
        config = replace(config, stages=stages, epochs=epochs * len(stages))
    checks = {
        "epochs": _positive_int,
        "batch": _positive_int,
        "seed": _int,
        "device": _device,
        "amp": _bool,
        "out": _str,
    }
    return replace(config, **{k: checks[k](f"--{k}", v) for k, v in given.items()})


# --- one builder per TrainConfig field: entries -> checked value ---------------------------------


def _bind(key: str, call: Any) -> tuple[str, dict[str, Any]]:
    """A call (or bare name) written for `key` -> (call name, arguments by parameter name)."""
    if isinstance(call, str):
        call = Call(call)
    if not isinstance(call, Call):
        raise ValueError(
            f"train.{key} expects a call such as {next(iter(_table(key)))}(...), got {call!r}"
        )
    table = _table(key)
    if call.name not in table:
        raise ValueError(
            f"train.{key}: unknown choice {call.name!r}; expected one of {', '.join(table)}"
        )
    try:
        return call.name, call.bind(table[call.name])
    except ValueError as error:
        raise ValueError(f"train.{key}: {error}") from None


def _table(key: str) -> dict[str, tuple[str, ...]]:
    table = SCHEMA[key]
    assert isinstance(table, dict), key
    return table


def _optimizer(entries: dict[str, Any]) -> OptimizerConfig:
    name, options = _bind("optimizer", entries.get("optimizer", Call("adam")))
    lr = options.pop("lr", None)
    if "lr" in entries:
        if lr is not None:
            raise ValueError("train: the learning rate is given twice (lr and optimizer(lr=...))")
        lr = entries["lr"]
    lr = DEFAULT_LR[name] if lr is None else _positive_float("train.lr", lr)
    checks = {
        "momentum": _fraction,
        "alpha": _fraction,
        "eps": _positive_float,
        "weight_decay": _non_negative,
        "nesterov": _bool,
        "betas": _betas,
    }
    options = {k: checks[k](f"train.optimizer.{k}", v) for k, v in options.items()}
    if options.get("nesterov") and not options.get("momentum"):
        raise ValueError("train.optimizer: sgd(nesterov=true) needs a momentum > 0")
    return OptimizerConfig(name, lr, options)


def _schedule(entries: dict[str, Any]) -> ScheduleConfig:
    name, options = _bind("schedule", entries.get("schedule", Call("none")))
    if name == "warmup":
        warmup = _positive_int("train.schedule.warmup", options.get("epochs", 1))
        return ScheduleConfig("none", warmup)
    warmup = _non_negative_int("train.schedule.warmup", options.pop("warmup", 0))
    checks = {
        "step_size": _positive_int,
        "gamma": _positive_float,
        "min_lr": _non_negative,
        "factor": _fraction,
        "patience": _non_negative_int,
        "monitor": _monitor,
    }
    return ScheduleConfig(
        name, warmup, {k: checks[k](f"train.schedule.{k}", v) for k, v in options.items()}
    )


def _loss(entries: dict[str, Any]) -> LossConfig:
    name, options = _bind("loss", entries.get("loss", Call("cross_entropy")))
    checks = {"label_smoothing": _fraction, "pos_weight": _positive_float}
    return LossConfig(name, {k: checks[k](f"train.loss.{k}", v) for k, v in options.items()})


def _penalties(entries: dict[str, Any]) -> tuple[Penalty, ...]:
    calls = _as_list(entries.get("regularize", []))
    penalties = []
    for call in calls:
        name, options = _bind("regularize", call)
        if "strength" not in options:
            raise ValueError(f"train.regularize: {name} needs a strength, e.g. {name}(1e-4)")
        strength = _non_negative(f"train.regularize.{name}", options["strength"])
        penalties.append(Penalty(name, strength))
    kinds = [p.kind for p in penalties]
    if len(set(kinds)) != len(kinds):
        raise ValueError("train.regularize: each of l1 and l2 may be given once")
    return tuple(penalties)


def _early_stop(entries: dict[str, Any]) -> EarlyStopConfig | None:
    if "early_stop" not in entries:
        return None
    value = entries["early_stop"]
    if value is False:
        return None
    _, options = _bind("early_stop", Call("early_stop") if value is True else value)
    monitor = _monitor("train.early_stop.monitor", options.get("monitor", "val_loss"))
    mode = _mode(monitor, options.get("mode"))
    return EarlyStopConfig(
        monitor,
        mode,
        _non_negative_int("train.early_stop.patience", options.get("patience", 5)),
        _non_negative("train.early_stop.min_delta", options.get("min_delta", 0.0)),
        _bool("train.early_stop.restore_best", options.get("restore_best", True)),
    )


def _mode(monitor: str, mode: Any) -> str:
    """min for losses, max for accuracies, unless written out."""
    if mode is not None:
        mode = _name("train.early_stop.mode", mode)
        if mode not in ("min", "max"):
            raise ValueError(f"train.early_stop.mode must be min or max, got {mode!r}")
        return str(mode)
    return "max" if monitor.endswith("accuracy") else "min"


def _single_call(key: str) -> Any:
    def build(entries: dict[str, Any]) -> Call | None:
        if key not in entries:
            return None
        name, options = _bind(key, entries[key])
        return Call(name, (), options)

    return build


def _augment(entries: dict[str, Any]) -> tuple[Call, ...]:
    calls = []
    for call in _as_list(entries.get("augment", [])):
        name, options = _bind("augment", call)
        calls.append(Call(name, (), options))
    return tuple(calls)


def _normalize(entries: dict[str, Any]) -> str:
    return _bind("normalize", entries.get("normalize", Call("standardize")))[0]


def _classes(entries: dict[str, Any]) -> tuple[str, ...] | None:
    if "classes" not in entries:
        return None
    return tuple(str(c) for c in _as_list(entries["classes"]))


def _patterns(key: str) -> Any:
    """A list of layer patterns (names, prefixes, globs, ranges a..b) -> a tuple of strings."""

    def build(entries: dict[str, Any]) -> tuple[str, ...]:
        values = _as_list(entries.get(key, []))
        return tuple(_str(f"train.{key}", value) for value in values)

    return build


def _lr_mult(entries: dict[str, Any]) -> dict[str, float]:
    """`lr_mult layer1=0.1 fc=10` (a call's keyword arguments) -> {layer: factor}."""
    value = entries.get("lr_mult")
    if value is None:
        return {}
    if not isinstance(value, Call) or value.args:
        raise ValueError(
            f"train.lr_mult expects layer=factor pairs, e.g. `lr_mult fc=10`, got {value!r}"
        )
    return {
        name: _positive_float(f"train.lr_mult.{name}", factor)
        for name, factor in value.kwargs.items()
    }


def _bn(entries: dict[str, Any]) -> str:
    return _bind("bn", entries.get("bn", Call("frozen")))[0]


def _plain(key: str, check: Any, default: Any) -> Any:
    return lambda entries: check(f"train.{key}", entries[key]) if key in entries else default


# --- value checks: (what, value) -> value, or ValueError naming `what` ---------------------------


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _int(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return value


def _positive_int(what: str, value: Any) -> int:
    if _int(what, value) <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _non_negative_int(what: str, value: Any) -> int:
    if _int(what, value) < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
    return int(value)


def _float(what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(value)


def _positive_float(what: str, value: Any) -> float:
    if _float(what, value) <= 0:
        raise ValueError(f"{what} must be > 0, got {value!r}")
    return float(value)


def _non_negative(what: str, value: Any) -> float:
    if _float(what, value) < 0:
        raise ValueError(f"{what} must be >= 0, got {value!r}")
    return float(value)


def _fraction(what: str, value: Any) -> float:
    if not 0 <= _float(what, value) < 1:
        raise ValueError(f"{what} must be in [0, 1), got {value!r}")
    return float(value)


def _betas(what: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{what} must be a pair such as [0.9, 0.999], got {value!r}")
    return (_fraction(what, value[0]), _fraction(what, value[1]))


def _bool(what: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, got {value!r}")
    return value


def _str(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _name(what: str, value: Any) -> str:
    """A bare name (`val_loss` arrives as Call("val_loss")) or a string."""
    if isinstance(value, Call) and not value.args and not value.kwargs:
        return value.name
    return _str(what, value)


def _monitor(what: str, value: Any) -> str:
    name = _name(what, value)
    if name not in METRICS:
        raise ValueError(f"{what}: unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    return name


def _device(what: str, value: Any) -> str:
    if value not in DEVICES:
        raise ValueError(f"{what} must be one of {', '.join(DEVICES)}, got {value!r}")
    return str(value)


# TrainConfig field -> its builder from the section's entries (after the checks they use).
_BUILDERS = {
    "data": _single_call("data"),
    "test_data": _single_call("test_data"),
    "batch": _plain("batch", _positive_int, 32),
    "epochs": _plain("epochs", _positive_int, 10),
    "optimizer": _optimizer,
    "schedule": _schedule,
    "loss": _loss,
    "penalties": _penalties,
    "early_stop": _early_stop,
    "normalize": _normalize,
    "augment": _augment,
    "init": _single_call("init"),
    "clip": _plain("clip", _positive_float, None),
    "seed": _plain("seed", _int, 0),
    "device": _plain("device", _device, "auto"),
    "amp": _plain("amp", _bool, False),
    "classes": _classes,
    "val_every": _plain("val_every", _positive_int, 1),
    "weights": _plain("weights", _str, None),
    "replace": _patterns("replace"),
    "freeze": _patterns("freeze"),
    "unfreeze": _patterns("unfreeze"),
    "lr_mult": _lr_mult,
    "bn": _bn,
    "sync_bn": _plain("sync_bn", _bool, False),
}
