"""One builder per TrainConfig field: a train section's entries -> that field's checked value.

Each raises ValueError naming the key (`train.optimizer.momentum: ...`); `BUILDERS` maps field
names to builders in TrainConfig's order.
"""

from __future__ import annotations

from typing import Any

from netlang.semantics.train_schema import SCHEMA
from netlang.semantics.train_spec import Call
from netlang.train.settings import (
    DEFAULT_LR,
    DEVICES,
    METRICS,
    EarlyStopConfig,
    LossConfig,
    OptimizerConfig,
    Penalty,
    ScheduleConfig,
)


def bind(key: str, call: Any) -> tuple[str, dict[str, Any]]:
    """A call (or bare name) written for `key` -> (call name, arguments by parameter name)."""
    if isinstance(call, str):
        call = Call(call)
    if not isinstance(call, Call):
        raise ValueError(
            f"train.{key} expects a call such as {next(iter(choices(key)))}(...), got {call!r}"
        )
    table = choices(key)
    if call.name not in table:
        raise ValueError(
            f"train.{key}: unknown choice {call.name!r}; expected one of {', '.join(table)}"
        )
    try:
        return call.name, call.bind(table[call.name])
    except ValueError as error:
        raise ValueError(f"train.{key}: {error}") from None


def choices(key: str) -> dict[str, tuple[str, ...]]:
    table = SCHEMA[key]
    assert isinstance(table, dict), key
    return table


def optimizer(entries: dict[str, Any]) -> OptimizerConfig:
    name, options = bind("optimizer", entries.get("optimizer", Call("adam")))
    lr = options.pop("lr", None)
    if "lr" in entries:
        if lr is not None:
            raise ValueError("train: the learning rate is given twice (lr and optimizer(lr=...))")
        lr = entries["lr"]
    lr = DEFAULT_LR[name] if lr is None else positive_float("train.lr", lr)
    checks = {
        "momentum": fraction,
        "alpha": fraction,
        "eps": positive_float,
        "weight_decay": non_negative,
        "nesterov": boolean,
        "betas": betas,
    }
    options = {k: checks[k](f"train.optimizer.{k}", v) for k, v in options.items()}
    if options.get("nesterov") and not options.get("momentum"):
        raise ValueError("train.optimizer: sgd(nesterov=true) needs a momentum > 0")
    return OptimizerConfig(name, lr, options)


def schedule(entries: dict[str, Any]) -> ScheduleConfig:
    name, options = bind("schedule", entries.get("schedule", Call("none")))
    if name == "warmup":
        warmup = positive_int("train.schedule.warmup", options.get("epochs", 1))
        return ScheduleConfig("none", warmup)
    warmup = non_negative_int("train.schedule.warmup", options.pop("warmup", 0))
    checks = {
        "step_size": positive_int,
        "gamma": positive_float,
        "min_lr": non_negative,
        "factor": fraction,
        "patience": non_negative_int,
        "monitor": monitor_name,
    }
    return ScheduleConfig(
        name, warmup, {k: checks[k](f"train.schedule.{k}", v) for k, v in options.items()}
    )


def task(entries: dict[str, Any]) -> str | None:
    return bind("task", entries["task"])[0] if "task" in entries else None


def loss(entries: dict[str, Any]) -> LossConfig | None:
    if "loss" not in entries:
        return None
    name, options = bind("loss", entries["loss"])
    checks = {"label_smoothing": fraction, "pos_weight": positive_float, "delta": positive_float}
    return LossConfig(name, {k: checks[k](f"train.loss.{k}", v) for k, v in options.items()})


def penalties_of(entries: dict[str, Any]) -> tuple[Penalty, ...]:
    calls = as_list(entries.get("regularize", []))
    penalties = []
    for call in calls:
        name, options = bind("regularize", call)
        if "strength" not in options:
            raise ValueError(f"train.regularize: {name} needs a strength, e.g. {name}(1e-4)")
        strength = non_negative(f"train.regularize.{name}", options["strength"])
        penalties.append(Penalty(name, strength))
    kinds = [p.kind for p in penalties]
    if len(set(kinds)) != len(kinds):
        raise ValueError("train.regularize: each of l1 and l2 may be given once")
    return tuple(penalties)


def early_stop(entries: dict[str, Any]) -> EarlyStopConfig | None:
    if "early_stop" not in entries:
        return None
    value = entries["early_stop"]
    if value is False:
        return None
    _, options = bind("early_stop", Call("early_stop") if value is True else value)
    monitor = monitor_name("train.early_stop.monitor", options.get("monitor", "val_loss"))
    mode = mode_for(monitor, options.get("mode"))
    return EarlyStopConfig(
        monitor,
        mode,
        non_negative_int("train.early_stop.patience", options.get("patience", 5)),
        non_negative("train.early_stop.min_delta", options.get("min_delta", 0.0)),
        boolean("train.early_stop.restore_best", options.get("restore_best", True)),
    )


def mode_for(monitor: str, mode: Any) -> str:
    """min for losses, max for accuracies, unless written out."""
    if mode is not None:
        mode = identifier("train.early_stop.mode", mode)
        if mode not in ("min", "max"):
            raise ValueError(f"train.early_stop.mode must be min or max, got {mode!r}")
        return str(mode)
    return "max" if monitor.endswith("accuracy") else "min"


def single_call(key: str) -> Any:
    def build(entries: dict[str, Any]) -> Call | None:
        if key not in entries:
            return None
        name, options = bind(key, entries[key])
        return Call(name, (), options)

    return build


def augment(entries: dict[str, Any]) -> tuple[Call, ...]:
    calls = []
    for call in as_list(entries.get("augment", [])):
        name, options = bind("augment", call)
        calls.append(Call(name, (), options))
    return tuple(calls)


def normalize(entries: dict[str, Any]) -> str:
    return bind("normalize", entries.get("normalize", Call("standardize")))[0]


def classes(entries: dict[str, Any]) -> tuple[str, ...] | None:
    if "classes" not in entries:
        return None
    return tuple(str(c) for c in as_list(entries["classes"]))


def patterns(key: str) -> Any:
    """A list of layer patterns (names, prefixes, globs, ranges a..b) -> a tuple of strings."""

    def build(entries: dict[str, Any]) -> tuple[str, ...]:
        values = as_list(entries.get(key, []))
        return tuple(string(f"train.{key}", value) for value in values)

    return build


def lr_mult(entries: dict[str, Any]) -> dict[str, float]:
    """`lr_mult layer1=0.1 fc=10` (a call's keyword arguments) -> {layer: factor}."""
    value = entries.get("lr_mult")
    if value is None:
        return {}
    if not isinstance(value, Call) or value.args:
        raise ValueError(
            f"train.lr_mult expects layer=factor pairs, e.g. `lr_mult fc=10`, got {value!r}"
        )
    return {
        name: positive_float(f"train.lr_mult.{name}", factor)
        for name, factor in value.kwargs.items()
    }


def bn(entries: dict[str, Any]) -> str:
    return bind("bn", entries.get("bn", Call("frozen")))[0]


def plain(key: str, check: Any, default: Any) -> Any:
    return lambda entries: check(f"train.{key}", entries[key]) if key in entries else default


# --- value checks: (what, value) -> value, or ValueError naming `what` ---------------------------


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def integer(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return value


def positive_int(what: str, value: Any) -> int:
    if integer(what, value) <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(what: str, value: Any) -> int:
    if integer(what, value) < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
    return int(value)


def real(what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(value)


def positive_float(what: str, value: Any) -> float:
    if real(what, value) <= 0:
        raise ValueError(f"{what} must be > 0, got {value!r}")
    return float(value)


def non_negative(what: str, value: Any) -> float:
    if real(what, value) < 0:
        raise ValueError(f"{what} must be >= 0, got {value!r}")
    return float(value)


def fraction(what: str, value: Any) -> float:
    if not 0 <= real(what, value) < 1:
        raise ValueError(f"{what} must be in [0, 1), got {value!r}")
    return float(value)


def betas(what: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{what} must be a pair such as [0.9, 0.999], got {value!r}")
    return (fraction(what, value[0]), fraction(what, value[1]))


def boolean(what: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, got {value!r}")
    return value


def string(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def identifier(what: str, value: Any) -> str:
    """A bare name (`val_loss` arrives as Call("val_loss")) or a string."""
    if isinstance(value, Call) and not value.args and not value.kwargs:
        return value.name
    return string(what, value)


def monitor_name(what: str, value: Any) -> str:
    name = identifier(what, value)
    if name not in METRICS:
        raise ValueError(f"{what}: unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    return name


def device(what: str, value: Any) -> str:
    if value not in DEVICES:
        raise ValueError(f"{what} must be one of {', '.join(DEVICES)}, got {value!r}")
    return str(value)


# TrainConfig field -> its builder from the section's entries (after the checks they use).
BUILDERS = {
    "task": task,
    "data": single_call("data"),
    "test_data": single_call("test_data"),
    "batch": plain("batch", positive_int, 32),
    "epochs": plain("epochs", positive_int, 10),
    "optimizer": optimizer,
    "schedule": schedule,
    "loss": loss,
    "penalties": penalties_of,
    "early_stop": early_stop,
    "normalize": normalize,
    "tokenize": single_call("tokenize"),
    "augment": augment,
    "init": single_call("init"),
    "clip": plain("clip", positive_float, None),
    "seed": plain("seed", integer, 0),
    "device": plain("device", device, "auto"),
    "amp": plain("amp", boolean, False),
    "channels_last": plain("channels_last", boolean, False),
    "compile": plain("compile", boolean, False),
    "classes": classes,
    "val_every": plain("val_every", positive_int, 1),
    "weights": plain("weights", string, None),
    "replace": patterns("replace"),
    "freeze": patterns("freeze"),
    "unfreeze": patterns("unfreeze"),
    "lr_mult": lr_mult,
    "bn": bn,
    "sync_bn": plain("sync_bn", boolean, False),
}
