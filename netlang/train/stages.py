"""Staged training (transfer learning): entering a stage freezes its layers and gives it an
optimiser, schedule and early stopping of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from netlang.train.optim import LRSchedule, build_optimizer
from netlang.train.state import RunState, monitor_for, tracker_for
from netlang.train.transfer import Layers, StagePlan

if TYPE_CHECKING:
    from netlang.data import DataSplits


def start_stages(run: RunState, splits: DataSplits, layers: Sequence[str] | None) -> None:
    """Check every stage against the model and the data, then enter the first."""
    leaves = [name for name, sub in run.module.named_modules() if name and not any(sub.children())]
    names = layers if layers is not None else leaves
    run.plan = StagePlan.build(run.config, Layers(names))
    for stage in run.plan.stages:
        monitor_for(
            replace(run.config, early_stop=stage.early_stop, schedule=stage.schedule), splits
        )
    enter_stage(run, splits, 0, 0)


def enter_stage(run: RunState, splits: DataSplits, index: int, start: int) -> None:
    """Switch to stage `index`, from run epoch `start` on: its frozen layers (frozen batch norms
    stay in eval mode), and a new optimiser, schedule and early stopping of its own."""
    assert run.plan is not None
    stage = run.plan.stages[index]
    config = replace(
        run.config,
        epochs=start + stage.epochs,
        optimizer=stage.optimizer,
        schedule=stage.schedule,
        early_stop=stage.early_stop,
    )
    run.optimizer = build_optimizer(run.plan.apply(run.module, index), config.optimizer)
    run.forward = run.world.wrap(run.module, run.device, False)  # DDP sees the new frozen set
    run.schedule = LRSchedule(run.optimizer, config.schedule, stage.epochs, start)
    run.tracker = tracker_for(config, splits)
    run.config, run.stage, run.stage_start, run.best = config, index, start, None
