"""Plots for a run directory: metric history -> curves.png (the tasks draw their own pictures,
netlang.tasks.figures).

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


def plot_curves(
    path: Path,
    history: Sequence[dict[str, Any]],
    best_epoch: int | None,
    stop_epoch: int | None,
    *,
    metric: str = "accuracy",
) -> None:
    """Train vs val loss (left) and the task's metric (right: accuracy, mae); a dashed line marks
    the best epoch (the weights early stopping keeps), a dotted one the epoch where early
    stopping ended the run."""
    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    for axes, metric in zip(figure.subplots(1, 2), ("loss", metric)):
        for split in ("train", "val"):
            points = [
                (row["epoch"], row[f"{split}_{metric}"])
                for row in history
                if row.get(f"{split}_{metric}") is not None
            ]
            if points:
                axes.plot(*zip(*points), marker="o", markersize=3, label=split)
        if best_epoch is not None:
            axes.axvline(best_epoch, color="grey", linestyle="--", label=f"best epoch {best_epoch}")
        if stop_epoch is not None:
            axes.axvline(stop_epoch, color="red", linestyle=":", label=f"early stop {stop_epoch}")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        if axes.has_data():
            axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
