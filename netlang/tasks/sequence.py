"""Sequence (token) classification: outputs [N, T, C] + class ids [N, T] -> accuracy over time
steps and the classification report (per-class table, confusion matrix) over all tokens
(targets < 0 are padding and skipped)."""

from __future__ import annotations

from typing import Any

import torch

from netlang.tasks.base import LossFn, Task, TestContext
from netlang.tasks.classification import class_names, class_report, class_scores

IGNORE = -100  # torch's ignore_index: padded time steps carry no label


class Sequence(Task):
    name = "sequence"
    default_loss = "cross_entropy"
    metric = "accuracy"

    def batch_metric(
        self, out: torch.Tensor, y: torch.Tensor, loss: str
    ) -> tuple[torch.Tensor, int] | None:
        predicted, truth = _tokens(out, y)
        return (predicted == truth).sum(), len(truth)

    def objective(self, name: str, options: dict[str, Any], default: LossFn) -> LossFn:
        if name != "cross_entropy":
            return default
        smoothing = float(options.get("label_smoothing", 0.0))
        return lambda out, y: sequence_loss(out, y, smoothing)

    def report(self, context: TestContext) -> dict[str, Any]:
        result = context.collect()
        predicted, truth = _tokens(result.out, result.targets)
        names = class_names(context.splits.classes, result.out.shape[-1])
        scores = class_scores(predicted, truth, len(names))
        accuracy = float((predicted == truth).double().mean()) if len(truth) else None
        context.log(
            f"{context.split}: loss {result.loss:.4f}, token accuracy {100 * (accuracy or 0):.2f}%"
            f" on {len(truth)} tokens of {len(result.targets)} sequences"
        )
        return {
            "loss": result.loss,
            "accuracy": accuracy,
            **class_report(context, scores, names, unit="tokens"),
            "examples": len(result.targets),
            "tokens": len(truth),
        }


def _tokens(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and true ids of the labelled time steps, flattened."""
    predicted, truth = out.argmax(-1).reshape(-1), y.long().reshape(-1)
    keep = truth >= 0
    return predicted[keep], truth[keep]


def sequence_loss(out: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy over every labelled time step of [N, T, C] logits."""
    return torch.nn.functional.cross_entropy(
        out.reshape(-1, out.shape[-1]),
        y.long().reshape(-1),
        ignore_index=IGNORE,
        label_smoothing=smoothing,
    )


TASK = Sequence()
