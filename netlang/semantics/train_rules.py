"""Value rules of a train section: each setting's and each call argument's check, defined once.

`check` applies them at compile time (a located NL2005 per bad value); the trainer's builders
apply the same functions when they build a TrainConfig. A check takes (what, value) and returns
the value, or raises ValueError naming `what`. No torch here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from netlang.diagnostics import did_you_mean
from netlang.semantics.train_schema import SCHEMA
from netlang.semantics.train_spec import Call

# Metrics the loop records each epoch; any of them may be monitored.
# (accuracy for classifiers, mae for regression and reconstruction: the task's `metric`)
METRICS = (
    "train_loss",
    "train_accuracy",
    "train_mae",
    "val_loss",
    "val_accuracy",
    "val_mae",
)
DEVICES = ("auto", "cpu", "cuda")
# Used when a `data` call gives no `split`: (train, val, test).
DEFAULT_SPLIT = (0.8, 0.1, 0.1)

Check = Callable[[str, Any], Any]


class RuleError(ValueError):
    """A value a rule refuses: what is wrong, the suggestion (a diagnostic's hint) and, for a
    call's argument, its name (the diagnostic underlines that argument's value)."""

    def __init__(self, message: str, hint: str | None = None, argument: str | None = None):
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message, self.hint, self.argument = message, hint, argument


def is_number(value: Any) -> bool:
    """An int or float written in the source (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def spelt(value: Any) -> str:
    """A value as the source writes it: strings in double quotes, `true`/`false`."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def integer(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {spelt(value)}")
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
    if not is_number(value):
        raise ValueError(f"{what} must be a number, got {spelt(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def positive_float(what: str, value: Any) -> float:
    if real(what, value) <= 0:
        raise ValueError(f"{what} must be > 0, got {value!r}")
    return float(value)


def non_negative(what: str, value: Any) -> float:
    if real(what, value) < 0:
        raise ValueError(f"{what}={value!r}: expected a non-negative number")
    return float(value)


def fraction(what: str, value: Any) -> float:
    if not 0 <= real(what, value) < 1:
        raise ValueError(f"{what} must be in [0, 1), got {value!r}")
    return float(value)


def probability(what: str, value: Any) -> float:
    if not 0 <= real(what, value) <= 1:
        raise ValueError(f"{what}={value!r}: expected a probability in [0, 1]")
    return float(value)


def betas(what: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{what} must be a pair such as [0.9, 0.999], got {value!r}")
    return (fraction(what, value[0]), fraction(what, value[1]))


def boolean(what: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, got {spelt(value)}")
    return value


def image_size(what: str, value: Any) -> Any:
    """`32` or `[height, width]`, as netlang.data.resize.parse_size takes it."""
    pair = list(value) if isinstance(value, (list, tuple)) else [value, value]
    if len(pair) != 2 or not all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in pair
    ):
        raise ValueError(f"{what}={spelt(value)}: expected a positive integer or [height, width]")
    return value


def image_channels(what: str, value: Any) -> int:
    if value not in (1, 3) or isinstance(value, bool):
        raise ValueError(f"{what}={spelt(value)}: expected 1 (grey) or 3 (RGB)")
    return int(value)


def kept_classes(what: str, value: Any) -> list[Any]:
    """`keep`: a non-empty list of distinct class names or label numbers."""
    if not isinstance(value, (list, tuple)) or not value or len(set(map(str, value))) != len(value):
        raise ValueError(f"{what}={spelt(value)}: expected a list of distinct classes")
    return list(value)


def string(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def strings(what: str, value: Any) -> tuple[str, ...]:
    return tuple(string(what, v) for v in as_list(value))


def identifier(what: str, value: Any) -> str:
    """A bare name (`val_loss` arrives as Call("val_loss")) or a string."""
    if isinstance(value, Call) and not value.args and not value.kwargs:
        return value.name
    return string(what, value)


def choice(what: str, value: Any, options: tuple[str, ...], kind: str) -> str:
    """A name from a fixed set (a metric, a mode, a device); a misspelt one is refused with the
    nearest as its hint."""
    name = identifier(what, value)
    if name not in options:
        hint = did_you_mean(name, options) or f"expected one of {', '.join(options)}"
        raise RuleError(f"{what}: unknown {kind} `{name}`", hint)
    return name


def monitor_name(what: str, value: Any) -> str:
    return choice(what, value, METRICS, "metric")


def mode(what: str, value: Any) -> str:
    return choice(what, value, ("min", "max"), "mode")


def part(what: str, value: Any) -> str:
    return choice(what, value, ("train", "test"), "part")


def device(what: str, value: Any) -> str:
    return choice(what, value, DEVICES, "device")


def split(what: str, value: Any) -> tuple[float, float, float]:
    """`0.8` -> (0.8, 0.2, 0); `[0.7, 0.3]` -> (0.7, 0.3, 0); `[0.7, 0.15, 0.15]` as is."""
    if value is None:
        return DEFAULT_SPLIT
    if is_number(value):
        if not 0 < value <= 1:
            raise ValueError(f"{what}={value!r}: the train fraction must be in (0, 1]")
        return (float(value), 1.0 - float(value), 0.0)
    if isinstance(value, (list, tuple)) and len(value) in (2, 3) and all(map(is_number, value)):
        parts = [float(f) for f in value] + [0.0] * (3 - len(value))
        if not all(map(math.isfinite, parts)) or min(parts) < 0 or parts[0] == 0:
            raise ValueError(f"{what}={list(value)!r}: fractions must be >= 0, the train part > 0")
        if abs(sum(parts) - 1) > 1e-6:
            total = f"{sum(parts):g}"
            raise ValueError(f"{what}={list(value)!r}: the fractions must sum to 1, not {total}")
        return (parts[0], parts[1], parts[2])
    raise ValueError(
        f"{what}={value!r}: expected a train fraction such as 0.8 or a list "
        "[train, val] / [train, val, test] of fractions summing to 1"
    )


def angle_range(what: str, value: Any) -> tuple[float, float]:
    """`10` -> (-10, 10); `[lo, hi]` as is; angles within one turn."""
    if is_number(value) and 0 <= value <= 360:
        return (-float(value), float(value))
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(is_number(v) and -360 <= v <= 360 for v in value)
        and value[0] <= value[1]
    ):
        return (float(value[0]), float(value[1]))
    raise ValueError(
        f"{what}={value!r}: expected an angle in [0, 360] or a pair [low, high] within ±360"
    )


def lr_mult(what: str, value: Any) -> dict[str, float]:
    """`lr_mult layer1=0.1 fc=10` (a call's keyword arguments) -> {layer: factor}."""
    if not isinstance(value, Call) or value.args:
        raise ValueError(f"{what} expects layer=factor pairs, e.g. `lr_mult fc=10`, got {value!r}")
    return {name: positive_float(f"{what}.{name}", f) for name, f in value.kwargs.items()}


# Plain settings: key -> check.
SETTINGS: dict[str, Check] = {
    "batch": positive_int,
    "epochs": positive_int,
    "lr": positive_float,
    "clip": positive_float,
    "seed": non_negative_int,
    "device": device,
    "amp": boolean,
    "channels_last": boolean,
    "compile": boolean,
    "val_every": positive_int,
    "sync_bn": boolean,
    "weights": string,
    "freeze": strings,
    "unfreeze": strings,
    "replace": strings,
    "lr_mult": lr_mult,
}

_DATA = {
    "split": split,
    "limit": positive_int,
    "download": boolean,
    "flatten": boolean,
    "size": image_size,
    "channels": image_channels,
    "keep": kept_classes,
}
# Call arguments: "key" (every call of that key) or "key.call" -> {argument -> check}.
ARGUMENTS: dict[str, dict[str, Check]] = {
    "data": _DATA,
    "test_data": _DATA,
    "data.mnist": {"part": part},
    "test_data.mnist": {"part": part},
    "optimizer": {
        "lr": positive_float,
        "momentum": fraction,
        "alpha": fraction,
        "eps": positive_float,
        "weight_decay": non_negative,
        "nesterov": boolean,
        "betas": betas,
    },
    "schedule": {
        "step_size": positive_int,
        "gamma": positive_float,
        "min_lr": non_negative,
        "factor": fraction,
        "patience": non_negative_int,
        "monitor": monitor_name,
        "warmup": non_negative_int,
    },
    "schedule.warmup": {"epochs": positive_int},
    "loss": {
        "label_smoothing": fraction,
        "pos_weight": positive_float,
        "delta": positive_float,
        "ce_weight": non_negative,
        "lambda_coord": non_negative,
        "lambda_noobj": non_negative,
        "boxes": positive_int,
    },
    "regularize": {"strength": non_negative},
    "early_stop": {
        "monitor": monitor_name,
        "patience": non_negative_int,
        "min_delta": non_negative,
        "mode": mode,
        "restore_best": boolean,
    },
    "augment.random_crop": {"padding": non_negative_int},
    "augment.hflip": {"p": probability},
    "augment.rotate": {"degrees": angle_range},
    "augment.noise": {"std": non_negative},
}


def argument_checks(key: str, call: str) -> dict[str, Check]:
    """The checks for the arguments of `call` written for `key` (its own before the key's)."""
    return {**ARGUMENTS.get(key, {}), **ARGUMENTS.get(f"{key}.{call}", {})}


def check_arguments(key: str, call: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Each bound argument through its check (unchecked ones as they are).

    Raises:
        RuleError: naming the refused argument.
    """
    checks = argument_checks(key, call)
    checked = {}
    for name, value in arguments.items():
        try:
            checked[name] = checks[name](f"train.{key}.{name}", value) if name in checks else value
        except ValueError as problem:
            hint = problem.hint if isinstance(problem, RuleError) else None
            message = problem.message if isinstance(problem, RuleError) else str(problem)
            raise RuleError(message, hint, name) from None
    return checked


def section_problems(entries: dict[str, Any]) -> list[tuple[str, str]]:
    """Rules across settings, as (key, message): what train refuses although each value is fine
    on its own. Values are assumed to have passed their own checks."""
    problems = []
    optimizer = _bound("optimizer", entries.get("optimizer"))
    if "lr" in entries and "lr" in optimizer:
        message = "train: the learning rate is given twice (lr and optimizer(lr=...))"
        problems.append(("lr", message))
    if optimizer.get("nesterov") and not optimizer.get("momentum"):
        problems.append(("optimizer", "train.optimizer: sgd(nesterov=true) needs a momentum > 0"))
    kinds = []
    for call in as_list(entries.get("regularize", [])):
        if isinstance(call, Call):
            kinds.append(call.name)
            if "strength" not in _bound("regularize", call):
                message = f"train.regularize: {call.name} needs a strength, e.g. {call.name}(1e-4)"
                problems.append(("regularize", message))
    if len(set(kinds)) != len(kinds):
        problems.append(("regularize", "train.regularize: each of l1 and l2 may be given once"))
    if entries.get("replace") and "weights" not in entries:
        message = (
            "train.replace names layers to initialise instead of loading, but "
            "there is no `weights` to load from"
        )
        problems.append(("replace", message))
    return problems


def check_section(entries: dict[str, Any]) -> None:
    """The first of `section_problems` as a ValueError."""
    problems = section_problems(entries)
    if problems:
        raise ValueError(problems[0][1])


def without_lr(optimizer: Any) -> Any:
    """The optimizer call with its lr= left out (the learning rate is given elsewhere)."""
    bound = _bound("optimizer", optimizer)
    if "lr" not in bound:
        return optimizer
    kept = {k: v for k, v in bound.items() if k != "lr"}
    return Call(optimizer.name, (), kept, optimizer.span)


def _bound(key: str, call: Any) -> dict[str, Any]:
    table = SCHEMA[key]
    if not isinstance(call, Call) or not isinstance(table, dict) or call.name not in table:
        return {}
    try:
        return call.bind(table[call.name])
    except ValueError:
        return {}
