"""Resolving stages: a stage's own settings, the section's for the rest; CLI overrides."""

from __future__ import annotations

import pytest

from netlang.train.config import resolve_config
from netlang.semantics.train_spec import Call, Stage, TrainSpec


def _resolve(
    entries: dict[str, object],
    stages: dict[str, dict[str, object]],
    overrides: dict[str, object] | None = None,
) -> object:
    spec = TrainSpec("M", entries, [Stage(name, own) for name, own in stages.items()])
    return resolve_config(spec, "M", overrides)


def test_a_stage_takes_what_it_does_not_set_from_the_section() -> None:
    config = _resolve(
        {
            "epochs": 4,
            "optimizer": Call("sgd", (0.1, 0.9)),
            "freeze": ["a"],
            "early_stop": Call("early_stop", (), {"patience": 2}),
        },
        {"head": {}, "tune": {"epochs": 6, "lr": 0.01, "freeze": []}},
    )
    head, tune = config.stages
    assert (head.epochs, head.optimizer.name, head.optimizer.lr, head.freeze) == (
        4,
        "sgd",
        0.1,
        ("a",),
    )
    assert head.early_stop is not None and head.early_stop.patience == 2
    assert (tune.epochs, tune.optimizer.lr, tune.optimizer.options, tune.freeze) == (
        6,
        0.01,
        {"momentum": 0.9},
        (),
    )
    assert config.epochs == 10


def test_a_stage_optimizer_with_its_own_rate_beats_the_section_lr() -> None:
    config = _resolve(
        {"lr": 0.5},
        {"a": {"optimizer": Call("adam", (), {"lr": 1e-4})}, "b": {"optimizer": Call("sgd")}},
    )
    assert [s.optimizer.lr for s in config.stages] == [1e-4, 0.5]


def test_epochs_from_the_cli_set_every_stage_and_lr_is_refused() -> None:
    stages = {"a": {"epochs": 3}, "b": {"epochs": 5}}
    config = _resolve({}, stages, {"epochs": 1})
    assert [s.epochs for s in config.stages] == [1, 1] and config.epochs == 2
    with pytest.raises(ValueError, match="--lr: a staged run sets its learning rate per stage"):
        _resolve({}, stages, {"lr": 0.1})


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ({"lr_mult": Call("lr_mult", (), {"fc": 0})}, "stage a: train.lr_mult.fc must be > 0"),
        ({"bn": Call("train")}, "stage a: train.bn: unknown choice 'train'"),
        ({"freeze": [3]}, "stage a: train.freeze must be a non-empty string"),
        ({"data": Call("digits")}, "stage a sets data, which holds for the whole run"),
    ],
)
def test_bad_stage_settings_name_the_stage(stage: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _resolve({}, {"a": stage})


def test_transfer_settings_are_recorded_with_the_run() -> None:
    config = _resolve(
        {"weights": "w.pth", "replace": ["fc"], "bn": Call("trainable")},
        {"a": {"freeze": ["layer1..layer3"], "lr_mult": Call("lr_mult", (), {"fc": 10})}},
    )
    saved = config.to_json()
    assert saved["weights"] == "w.pth" and saved["replace"] == ["fc"]
    assert saved["stages"][0]["freeze"] == ["layer1..layer3"]
    assert saved["stages"][0]["lr_mult"] == {"fc": 10.0}
    assert saved["stages"][0]["bn"] == "trainable"
