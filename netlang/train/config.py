"""Training configuration: a `train` section's entries (TrainSpec) + CLI overrides -> TrainConfig.

Every default lives in settings.py, every value is checked by builders.py (ValueError naming the
key); this module resolves a section, its stages and the overrides into one TrainConfig. No torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from netlang.semantics import train_rules as rules
from netlang.semantics.train_schema import SCHEMA, STAGE_KEYS
from netlang.semantics.train_spec import Call, Stage, TrainSpec
from netlang.train import builders
from netlang.train.settings import (
    OVERRIDES,
    EarlyStopConfig,
    LossConfig,
    OptimizerConfig,
    Penalty,
    ScheduleConfig,
    StageConfig,
    TrainConfig,
)

__all__ = [
    "EarlyStopConfig",
    "LossConfig",
    "OptimizerConfig",
    "Penalty",
    "ScheduleConfig",
    "StageConfig",
    "TrainConfig",
    "resolve_config",
]


def resolve_config(
    spec: TrainSpec | None, model: str, overrides: Mapping[str, Any] | None = None
) -> TrainConfig:
    """Resolve a train section (or none) and CLI overrides into a checked TrainConfig.

    Args:
        spec: the model's compiled `train` section, or None for all defaults.
        model: the model's name, recorded with the run.
        overrides: CLI values (see OVERRIDES); None means "not given".

    Raises:
        ValueError: a value of the wrong kind or range, or a stage setting that cannot change
            within a run.
    """
    entries = dict(spec.entries) if spec is not None else {}
    unknown = sorted(set(entries) - set(SCHEMA))
    if unknown:
        raise ValueError(f"unknown train keys: {', '.join(unknown)}")
    config = TrainConfig(
        model=model, **{name: build(entries) for name, build in builders.BUILDERS.items()}
    )
    if spec is not None and spec.inputs:
        config = replace(config, inputs=tuple(spec.inputs))
    rules.check_section(entries)
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
            builders.plain("epochs", 10)(entries),
            builders.optimizer(entries),
            builders.schedule(entries),
            builders.early_stop(entries),
            builders.patterns("freeze")(entries),
            builders.patterns("unfreeze")(entries),
            builders.lr_mult(entries),
            builders.bn(entries),
        )
    except ValueError as error:
        raise ValueError(f"stage {stage.name}: {error}") from None


def _inherit(section: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """section + stage entries, where a stage's `lr` beats the section optimiser's lr= and a
    stage optimiser with its own lr= beats the section's `lr`."""
    entries = {**section, **own}
    optimizer = entries.get("optimizer")
    if "lr" in own and "optimizer" not in own and optimizer is not None:
        name, options = builders.bind("optimizer", optimizer)
        options.pop("lr", None)
        entries["optimizer"] = Call(name, (), options)
    if (
        "optimizer" in own
        and "lr" not in own
        and "lr" in builders.bind("optimizer", own["optimizer"])[1]
    ):
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
        lr = rules.positive_float("--lr", given.pop("lr"))
        config = replace(config, optimizer=replace(config.optimizer, lr=lr))
    if "epochs" in given and config.stages:
        epochs = rules.positive_int("--epochs", given.pop("epochs"))
        stages = tuple(replace(stage, epochs=epochs) for stage in config.stages)
        config = replace(config, stages=stages, epochs=epochs * len(stages))
    checks = {**rules.SETTINGS, "out": rules.string}
    return replace(config, **{k: checks[k](f"--{k}", v) for k, v in given.items()})
