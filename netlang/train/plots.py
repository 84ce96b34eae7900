"""Plots: a run's metric history -> curves.png, several runs -> compare.png (the tasks draw their
own pictures: netlang.tasks.figures).

Uses matplotlib's object API with the Agg canvas directly, so no global pyplot state or display
backend is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def task_metric(history: Sequence[dict[str, Any]]) -> str | None:
    """The task's metric besides the loss (`accuracy` for classifiers), if the rows have one."""
    for row in history:
        for key, value in row.items():
            split, _, metric = key.partition("_")
            if split in ("train", "val") and metric != "loss" and value is not None:
                return metric
    return None


def stage_starts(history: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """(first epoch, name) of each stage after the first, from the rows' `stage` column."""
    starts, previous = [], None
    for row in history:
        stage = row.get("stage")
        if previous is not None and stage != previous:
            starts.append((row["epoch"], str(stage)))
        previous = stage
    return starts


def plot_curves(
    path: Path,
    history: Sequence[dict[str, Any]],
    *,
    title: str = "",
    best_epoch: int | None = None,
    shipped_epoch: int | None = None,
    stop_epoch: int | None = None,
    log_scale: bool = False,
) -> None:
    """Train vs val loss, the task metric and the learning rate, one panel each. Vertical lines
    mark the best validation epoch (dashed), the epoch whose weights `export` ships (dash-dot),
    the epoch where early stopping ended the run (dotted) and each stage's start (solid)."""
    metric = task_metric(history)
    names = ["loss", *([metric] if metric else []), "lr"]
    figure = Figure(figsize=(4.2 * len(names), 4))
    FigureCanvasAgg(figure)
    for axes, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names):
        if name == "lr":
            _plot(axes, history, "lr", label="learning rate", color="tab:green")
            axes.set_yscale("log" if _positive(history, "lr") else "linear")
        else:
            for split in ("train", "val"):
                _plot(axes, history, f"{split}_{name}", label=split)
            if log_scale and name == "loss" and _positive(history, "train_loss", "val_loss"):
                axes.set_yscale("log")
        _mark(axes, history, best_epoch, shipped_epoch, stop_epoch)
        _style(axes, name)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_compare(
    path: Path,
    runs: Sequence[tuple[str, Sequence[dict[str, Any]]]],
    *,
    title: str = "",
    log_scale: bool = False,
) -> None:
    """Several runs on the same axes: loss (train dashed, val solid) and the task metric, one
    colour per run, labelled with what differs between the runs; a dotted line in the run's
    colour where each of its stages starts."""
    metric = next((m for _, h in runs if (m := task_metric(h))), None)
    names = ["loss", *([metric] if metric else [])]
    figure = Figure(figsize=(6 * len(names), 4.5))
    FigureCanvasAgg(figure)
    colours = [f"C{i % 10}" for i in range(len(runs))]
    for axes, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names):
        for (label, history), colour in zip(runs, colours):
            _plot(axes, history, f"train_{name}", label=f"{label} (train)", color=colour, ls="--")
            _plot(axes, history, f"val_{name}", label=f"{label} (val)", color=colour)
            for epoch, stage in stage_starts(history):
                axes.axvline(epoch - 0.5, color=colour, lw=1, ls=":", label=f"{label}: {stage}")
        if log_scale and name == "loss":
            axes.set_yscale("log")
        _style(axes, name)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def _plot(axes: Any, history: Sequence[dict[str, Any]], key: str, **style: Any) -> None:
    points = [(r["epoch"], r[key]) for r in history if r.get(key) is not None]
    if points:
        style.setdefault("marker", "o" if len(points) <= 30 else None)
        axes.plot(*zip(*points), markersize=3, **style)


def _positive(history: Sequence[dict[str, Any]], *keys: str) -> bool:
    values = [r[k] for r in history for k in keys if r.get(k) is not None]
    return bool(values) and min(values) > 0


def _mark(
    axes: Any,
    history: Sequence[dict[str, Any]],
    best: int | None,
    shipped: int | None,
    stop: int | None,
) -> None:
    for epoch, stage in stage_starts(history):
        axes.axvline(epoch - 0.5, color="black", lw=1, alpha=0.6, label=f"stage {stage}")
    if best is not None:
        axes.axvline(best, color="grey", linestyle="--", label=f"best epoch {best}")
    if shipped is not None and shipped != best:
        axes.axvline(shipped, color="purple", linestyle="-.", label=f"shipped epoch {shipped}")
    if stop is not None:
        axes.axvline(stop, color="red", linestyle=":", label=f"early stop {stop}")


def _style(axes: Any, name: str) -> None:
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("learning rate" if name == "lr" else name)
    axes.grid(alpha=0.3)
    if axes.has_data():
        axes.legend(fontsize=7)
