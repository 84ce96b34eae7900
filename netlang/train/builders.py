"""One builder per TrainConfig field: a train section's entries -> that field's checked value.

Each raises ValueError naming the key (`train.optimizer.momentum: ...`); the value rules are
semantics.train_rules' (the ones `check` applies), so a section `check` accepts builds here.
`BUILDERS` maps field names to builders in TrainConfig's order.
"""

from __future__ import annotations

from typing import Any

from netlang.semantics.train_rules import (
    SETTINGS,
    as_list,
    check_arguments,
    fraction,
    mode,
    positive_float,
    positive_int,
)
from netlang.semantics.train_schema import SCHEMA
from netlang.semantics.tasks import infer_task, task_problems
from netlang.semantics.train_spec import Call
from netlang.train.settings import (
    DEFAULT_LR,
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
        lr = entries["lr"]
    lr = DEFAULT_LR[name] if lr is None else positive_float("train.lr", lr)
    options = check_arguments("optimizer", name, options)
    return OptimizerConfig(name, lr, options)


def schedule(entries: dict[str, Any]) -> ScheduleConfig:
    name, options = bind("schedule", entries.get("schedule", Call("none")))
    options = check_arguments("schedule", name, options)
    if name == "warmup":
        return ScheduleConfig("none", options.get("epochs", 1))
    return ScheduleConfig(name, options.pop("warmup", 0), options)


def loss(entries: dict[str, Any]) -> LossConfig | None:
    if "loss" not in entries:
        return None
    name, options = bind("loss", entries["loss"])
    return LossConfig(name, check_arguments("loss", name, options))


def task(entries: dict[str, Any]) -> str | None:
    """The declared task, or the image task the loss or the data's `target` implies (None:
    inferred from the data's targets when the run starts, netlang.tasks.infer_task)."""
    name = infer_task(entries)
    if name is None:
        return None
    problems = task_problems(name, entries)
    if problems:
        raise ValueError(problems[0][1])
    return name


def task_options(entries: dict[str, Any]) -> dict[str, Any]:
    """`task detection(score, iou, max_per_class)`: the detections that count."""
    if "task" not in entries:
        return {}
    _, options = bind("task", entries["task"])
    checks = {"score": fraction, "iou": fraction, "max_per_class": positive_int}
    return {k: checks[k](f"train.task.{k}", v) for k, v in options.items()}


def penalties_of(entries: dict[str, Any]) -> tuple[Penalty, ...]:
    calls = as_list(entries.get("regularize", []))
    penalties = []
    for call in calls:  # a missing strength or a repeat: rules.section_problems
        name, options = bind("regularize", call)
        options = check_arguments("regularize", name, options)
        penalties.append(Penalty(name, options.get("strength", 0.0)))
    return tuple(penalties)


def early_stop(entries: dict[str, Any]) -> EarlyStopConfig | None:
    if "early_stop" not in entries:
        return None
    value = entries["early_stop"]
    if value is False:
        return None
    _, options = bind("early_stop", Call("early_stop") if value is True else value)
    defaults = {"monitor": "val_loss", "patience": 5, "min_delta": 0.0, "restore_best": True}
    options = check_arguments("early_stop", "early_stop", {**defaults, **options})
    monitor = options["monitor"]
    return EarlyStopConfig(
        monitor,
        mode_for(monitor, options.get("mode")),
        options["patience"],
        options["min_delta"],
        options["restore_best"],
    )


def mode_for(monitor: str, written: Any) -> str:
    """min for losses, max for accuracies, unless written out."""
    if written is not None:
        return mode("train.early_stop.mode", written)
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
        calls.append(Call(name, (), check_arguments("augment", name, options)))
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
        return tuple(SETTINGS[key](f"train.{key}", entries.get(key, [])))

    return build


def lr_mult(entries: dict[str, Any]) -> dict[str, float]:
    value = entries.get("lr_mult")
    return {} if value is None else SETTINGS["lr_mult"]("train.lr_mult", value)


def bn(entries: dict[str, Any]) -> str:
    return bind("bn", entries.get("bn", Call("frozen")))[0]


def plain(key: str, default: Any) -> Any:
    """A plain setting through its rule (SETTINGS), or `default` when not written."""
    check = SETTINGS[key]
    return lambda entries: check(f"train.{key}", entries[key]) if key in entries else default


# TrainConfig field -> its builder from the section's entries (after the checks they use).
BUILDERS = {
    "task": task,
    "task_options": task_options,
    "data": single_call("data"),
    "test_data": single_call("test_data"),
    "batch": plain("batch", 32),
    "epochs": plain("epochs", 10),
    "optimizer": optimizer,
    "schedule": schedule,
    "loss": loss,
    "penalties": penalties_of,
    "early_stop": early_stop,
    "normalize": normalize,
    "tokenize": single_call("tokenize"),
    "augment": augment,
    "init": single_call("init"),
    "clip": plain("clip", None),
    "seed": plain("seed", 0),
    "device": plain("device", "auto"),
    "amp": plain("amp", False),
    "channels_last": plain("channels_last", False),
    "compile": plain("compile", False),
    "classes": classes,
    "val_every": plain("val_every", 1),
    "weights": plain("weights", None),
    "replace": patterns("replace"),
    "freeze": patterns("freeze"),
    "unfreeze": patterns("unfreeze"),
    "lr_mult": lr_mult,
    "bn": bn,
    "sync_bn": plain("sync_bn", False),
}
