"""Pictures the tasks leave in a run directory: a row-normalised confusion matrix, a grid of
images (inputs / noisy inputs / reconstructions, or predictions), a 2-D scatter of codes.

matplotlib's object API on the Agg canvas: no pyplot state, no display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def plot_confusion(
    path: Path, matrix: Sequence[Sequence[int]], classes: Sequence[str], *, title: str
) -> None:
    """Each row (true class) divided by its count, so a cell is the fraction of that class
    predicted as the column's; the counts are written in the cells, a colour bar beside."""
    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = max(4.5, 0.5 * len(classes) + 2.5)
    figure = Figure(figsize=(size + 1, size))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="fraction of the true class")
    ticks = range(len(classes))
    axes.set_xticks(ticks, [str(c) for c in classes], rotation=45, ha="right")
    axes.set_yticks(ticks, [str(c) for c in classes])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for i in range(len(counts)):
        for j in range(len(counts)):
            axes.text(
                j,
                i,
                f"{int(counts[i, j])}",
                ha="center",
                va="center",
                color="white" if share[i, j] > 0.5 else "black",
                fontsize=8,
            )
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def as_images(x: np.ndarray) -> np.ndarray | None:
    """Samples -> [n, H, W] or [n, H, W, 3] images in display range, or None if they are not
    images ([n, C, H, W] with C 1 or 3, or flat vectors of a square size)."""
    if x.ndim == 4 and x.shape[1] in (1, 3):
        images = x[:, 0] if x.shape[1] == 1 else x.transpose(0, 2, 3, 1)
    elif x.ndim == 2 and int(np.sqrt(x.shape[1])) ** 2 == x.shape[1]:
        side = int(np.sqrt(x.shape[1]))
        images = x.reshape(len(x), side, side)
    elif x.ndim == 3 and x.shape[1] > 1 and x.shape[2] > 1:
        images = x
    else:
        return None
    return images


def plot_image_rows(
    path: Path, rows: Sequence[tuple[str, np.ndarray]], *, title: str, low: float, high: float
) -> None:
    """One row per (label, images); all panels share the value range [low, high]."""
    columns = max(len(images) for _, images in rows)
    figure = Figure(figsize=(1.1 * columns + 1.2, 1.2 * len(rows) + 0.6))
    FigureCanvasAgg(figure)
    grid = figure.subplots(len(rows), columns, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(columns):
            axes = grid[r][c]
            axes.set_xticks([])
            axes.set_yticks([])
            if c < len(images):
                image = np.clip((images[c] - low) / max(high - low, 1e-12), 0, 1)
                axes.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
            else:
                axes.axis("off")
        grid[r][0].set_ylabel(label, rotation=0, ha="right", va="center")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_codes(
    path: Path,
    codes: np.ndarray,
    labels: np.ndarray | None,
    classes: Sequence[str] | None,
    *,
    title: str,
) -> str:
    """Codes [n, d] -> a 2-D scatter, by PCA when d > 2, coloured by class when labels are
    known; returns how the axes were made ("code" or "PCA")."""
    flat = codes.reshape(len(codes), -1).astype(np.float64)
    how = "code"
    if flat.shape[1] > 2:
        centred = flat - flat.mean(0)
        _, _, axes_t = np.linalg.svd(centred, full_matrices=False)
        flat, how = centred @ axes_t[:2].T, "PCA"
    if flat.shape[1] < 2:  # a 1-number code, or PCA of a single sample: the second axis is 0
        flat = np.concatenate([flat, np.zeros((len(flat), 2 - flat.shape[1]))], 1)
    figure = Figure(figsize=(6.5, 5.5))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    if labels is None:
        axes.scatter(flat[:, 0], flat[:, 1], s=8, alpha=0.7)
    else:
        for k in np.unique(labels):
            chosen = labels == k
            name = classes[int(k)] if classes is not None and int(k) < len(classes) else str(k)
            axes.scatter(flat[chosen, 0], flat[chosen, 1], s=8, alpha=0.7, label=str(name))
        axes.legend(markerscale=2, fontsize=8, loc="best")
    axes.set_xlabel(f"{how} 1")
    axes.set_ylabel(f"{how} 2")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return how
