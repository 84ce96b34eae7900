"""Plots for a run directory: metric history -> curves.png, confusion matrix -> confusion.png.

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
    path: Path, history: Sequence[dict[str, Any]], shipped_epoch: int | None, stop_epoch: int | None
) -> None:
    """Train vs val loss (left) and accuracy (right); a dashed line marks the shipped epoch (the
    weights test.json scores and export ships), a dotted one where early stopping ended the run."""
    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    for axes, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        for split in ("train", "val"):
            points = [
                (row["epoch"], row[f"{split}_{metric}"])
                for row in history
                if row.get(f"{split}_{metric}") is not None
            ]
            if points:
                axes.plot(*zip(*points), marker="o", markersize=3, label=split)
        if shipped_epoch is not None:
            label = f"shipped: epoch {shipped_epoch}"
            axes.axvline(shipped_epoch, color="grey", linestyle="--", label=label)
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


def plot_confusion(path: Path, matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> None:
    """The confusion matrix as a heat map with the count in each cell."""
    size = max(4.0, 0.5 * len(classes) + 2)
    figure = Figure(figsize=(size, size))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.imshow(matrix, cmap="Blues")
    ticks = range(len(classes))
    axes.set_xticks(ticks, [str(c) for c in classes], rotation=45, ha="right")
    axes.set_yticks(ticks, [str(c) for c in classes])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    peak = max((v for row in matrix for v in row), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            axes.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                color="white" if value > peak / 2 else "black",
                fontsize=8,
            )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
