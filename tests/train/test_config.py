"""TrainConfig resolution: defaults, argument binding, checks and CLI overrides."""

from __future__ import annotations

import json

import pytest

from netlang.train.config import (
    EarlyStopConfig,
    OptimizerConfig,
    Penalty,
    ScheduleConfig,
    TrainConfig,
    resolve_config,
)
from netlang.semantics.train_spec import Call, Stage, TrainSpec


def resolve(**entries: object) -> TrainConfig:
    return resolve_config(TrainSpec("M", dict(entries)), "M")


def test_no_section_gives_the_documented_defaults() -> None:
    config = resolve_config(None, "M")
    assert config == TrainConfig(model="M")
    assert config.optimizer == OptimizerConfig("adam", 1e-3, {})
    assert config.loss is None and config.task is None  # the task's, once the data is known
    assert (config.batch, config.epochs, config.seed, config.device) == (32, 10, 0, "auto")


def test_positional_arguments_bind_in_schema_order() -> None:
    config = resolve(
        regularize=[Call("l2", (1e-4,)), Call("l1", (2e-5,))],
        optimizer=Call("sgd", (0.1, 0.9, True)),
    )
    assert config.penalties == (Penalty("l2", 1e-4), Penalty("l1", 2e-5))
    assert config.optimizer == OptimizerConfig("sgd", 0.1, {"momentum": 0.9, "nesterov": True})


def test_bare_names_are_calls_and_lr_may_stand_alone() -> None:
    config = resolve(
        optimizer=Call("rmsprop"),
        lr=0.05,
        loss=Call("mse"),
        schedule=Call("cosine", (), {"warmup": 2}),
    )
    assert config.optimizer == OptimizerConfig("rmsprop", 0.05, {})
    assert config.loss.name == "mse"
    assert config.schedule == ScheduleConfig("cosine", 2, {})


def test_warmup_alone_is_a_constant_schedule_after_the_ramp() -> None:
    assert resolve(schedule=Call("warmup", (3,))).schedule == ScheduleConfig("none", 3, {})


@pytest.mark.parametrize(
    ("monitor", "mode"), [("val_loss", "min"), ("val_accuracy", "max"), ("train_loss", "min")]
)
def test_early_stop_mode_follows_the_monitored_metric(monitor: str, mode: str) -> None:
    config = resolve(early_stop=Call("early_stop", (), {"monitor": Call(monitor), "patience": 3}))
    assert config.early_stop == EarlyStopConfig(monitor, mode, 3, 0.0, True)


def test_an_explicit_mode_wins() -> None:
    stop = resolve(
        early_stop=Call("early_stop", (), {"monitor": Call("val_loss"), "mode": Call("max")})
    ).early_stop
    assert stop is not None and stop.mode == "max"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"batch": 0}, "train.batch must be a positive integer"),
        ({"epochs": 2.5}, "train.epochs must be an integer"),
        ({"lr": -1.0}, "train.lr must be > 0"),
        ({"optimizer": Call("adagrad")}, "unknown choice 'adagrad'"),
        ({"optimizer": Call("adam", (), {"momentum": 0.9})}, "adam has no argument 'momentum'"),
        ({"optimizer": Call("sgd", (), {"nesterov": True})}, "needs a momentum > 0"),
        ({"loss": Call("cross_entropy", (1.5,))}, "label_smoothing must be in [0, 1)"),
        ({"regularize": Call("l2")}, "l2 needs a strength"),
        ({"early_stop": Call("early_stop", (), {"monitor": Call("val_f1")})}, "unknown metric"),
        ({"lr": 0.1, "optimizer": Call("sgd", (0.2,))}, "learning rate is given twice"),
        ({"device": "tpu"}, "train.device: unknown device `tpu`"),
        ({"device": "gpu0"}, "expected one of auto, cpu, cuda"),
        ({"lr_mult": [0.1]}, "train.lr_mult expects layer=factor pairs"),
        ({"replace": ["fc"]}, "there is no `weights` to load from"),
    ],
)
def test_bad_values_name_the_key(entries: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        resolve(**entries)


def test_a_stage_cannot_change_a_run_wide_setting() -> None:
    with pytest.raises(ValueError, match="stage head sets batch, which holds for the whole run"):
        resolve_config(TrainSpec("M", {}, [Stage("head", {"batch": 8})]), "M")


def test_cli_overrides_win_and_none_means_unset() -> None:
    config = resolve_config(
        TrainSpec("M", {"epochs": 30, "optimizer": Call("sgd", (0.1,))}),
        "M",
        {"epochs": 2, "lr": 0.5, "seed": 7, "batch": None, "amp": True, "out": "runs/x"},
    )
    assert (config.epochs, config.optimizer.lr, config.seed, config.batch) == (2, 0.5, 7, 32)
    assert config.amp and config.out == "runs/x"
    with pytest.raises(ValueError, match="--epochs must be a positive integer"):
        resolve_config(None, "M", {"epochs": 0})


def test_to_json_is_plain_json_with_calls_spelled_out() -> None:
    config = resolve(data=Call("digits", (), {"split": [0.8, 0.2]}), regularize=Call("l2", (0.1,)))
    data = json.loads(config.dumps())
    assert data["data"] == {"call": "digits", "args": [], "kwargs": {"split": [0.8, 0.2]}}
    assert data["penalties"] == [{"kind": "l2", "strength": 0.1}]
    assert data["optimizer"] == {"name": "adam", "lr": 0.001, "options": {}}


def test_init_schemes_are_names_only() -> None:
    assert resolve(init=Call("kaiming")).init == Call("kaiming")
    with pytest.raises(ValueError, match="train.init: normal takes no arguments, got 1"):
        resolve(init=Call("normal", (0.1,)))


def test_channels_last_and_compile_come_from_the_section_or_the_cli() -> None:
    section = resolve_config(TrainSpec("M", {"channels_last": True}), "M")
    assert (section.channels_last, section.compile) == (True, False)
    cli = resolve_config(
        TrainSpec("M", {"channels_last": True}), "M", {"channels_last": False, "compile": True}
    )
    assert (cli.channels_last, cli.compile) == (False, True)
    with pytest.raises(ValueError, match="compile"):
        resolve_config(TrainSpec("M", {"compile": 3}), "M")
