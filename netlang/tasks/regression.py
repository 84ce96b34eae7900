"""Regression: outputs [N, K] + numeric targets -> MAE and R² (torchmetrics), per target when
there are several; a picture of predicted against true values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torchmetrics.functional import mean_absolute_error, mean_squared_error, r2_score

from netlang.tasks.base import Task, TestContext

if TYPE_CHECKING:
    from netlang.data import DataSplits, Dataset


class Regression(Task):
    name = "regression"
    default_loss = "mse"
    metric = "mae"
    higher_is_better = False

    def prepare(self, splits: DataSplits) -> DataSplits:
        """Targets as float32 columns [n, K] (whole numbers in a csv read as numbers, too)."""

        def numeric(ds: Dataset | None) -> Dataset | None:
            if ds is None:
                return None
            y = ds.y.astype(np.float32)
            return replace(ds, y=y.reshape(len(y), -1) if y.ndim == 1 else y)

        return replace(
            splits, train=numeric(splits.train), val=numeric(splits.val), test=numeric(splits.test)
        )

    def batch_metric(
        self, out: torch.Tensor, y: torch.Tensor, loss: str
    ) -> tuple[torch.Tensor, int] | None:
        return (out.float() - y.float().view_as(out)).abs().sum(), out.numel()

    def report(self, context: TestContext) -> dict[str, Any]:
        result = context.collect()
        predicted = result.out.reshape(len(result.out), -1)
        truth = result.targets.float().reshape(predicted.shape)
        scores = regression_scores(predicted, truth)
        r2 = "n/a (one example)" if scores["r2"] is None else f"{scores['r2']:.4f}"
        context.log(
            f"{context.split}: loss {result.loss:.4f}, mae {scores['mae']:.4f}, "
            f"rmse {scores['rmse']:.4f}, r2 {r2} on {len(truth)} examples"
        )
        plot_predicted(
            context.run_dir / "predicted.png",
            predicted.numpy(),
            truth.numpy(),
            title=f"{context.model}: {context.split} split, r2 {r2}",
        )
        return {"loss": result.loss, "examples": len(truth), **scores}


def regression_scores(predicted: torch.Tensor, truth: torch.Tensor) -> dict[str, Any]:
    """MAE, RMSE and R² over all targets (R² averaged uniformly over the target columns)."""
    scores: dict[str, Any] = {
        "mae": float(mean_absolute_error(predicted, truth)),
        "rmse": float(mean_squared_error(predicted, truth, squared=False)),
        "r2": float(
            r2_score(
                predicted.squeeze(1) if predicted.shape[1] == 1 else predicted,
                truth.squeeze(1) if truth.shape[1] == 1 else truth,
            )
        )
        if len(truth) > 1
        else None,
    }
    if predicted.shape[1] > 1 and len(truth) > 1:  # R² of a single example is undefined
        scores["r2_per_target"] = [
            float(r2_score(predicted[:, k], truth[:, k])) for k in range(predicted.shape[1])
        ]
    return scores


def plot_predicted(path: Path, predicted: np.ndarray, truth: np.ndarray, *, title: str) -> None:
    """Predicted against true values (the first target), with the diagonal of perfect answers."""
    figure = Figure(figsize=(5.5, 5))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.scatter(truth[:, 0], predicted[:, 0], s=8, alpha=0.6)
    low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    axes.plot([low, high], [low, high], color="grey", linestyle="--", label="predicted = true")
    axes.set_xlabel("true")
    axes.set_ylabel("predicted")
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


TASK = Regression()
