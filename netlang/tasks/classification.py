"""Classification: logits [N, C] (or one logit with a bce loss) + class ids -> accuracy,
per-class precision / recall / F1 with macro averages (torchmetrics), and the confusion matrix
(counts in test.json and confusion.txt, normalised by row in confusion.png)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchmetrics.functional.classification import (
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

from netlang.tasks.base import Collected, Task, TestContext
from netlang.tasks.figures import plot_confusion

BINARY = ("bce", "bce_with_logits")


class Classification(Task):
    name = "classification"
    default_loss = "cross_entropy"
    metric = "accuracy"

    def batch_metric(
        self, out: torch.Tensor, y: torch.Tensor, loss: str
    ) -> tuple[torch.Tensor, int] | None:
        if loss in BINARY:
            predicted = out > (0.5 if loss == "bce" else 0.0)
            return (predicted == y.view_as(out).bool()).sum(), out.numel()
        if y.is_floating_point() or out.dim() < 2 or out.shape[1] < 2:
            return None
        return (out.argmax(1) == y).sum(), y.numel()

    def report(self, context: TestContext) -> dict[str, Any]:
        result = context.collect()
        predicted, truth, count = predictions(result, context.loss_name)
        names = class_names(context.splits.classes, count)
        scores = class_scores(predicted, truth, len(names))
        accuracy = float((predicted == truth).double().mean()) if len(truth) else None
        context.log(
            f"{context.split}: loss {result.loss:.4f}, accuracy {100 * (accuracy or 0):.2f}% "
            f"on {len(truth)} examples"
        )
        return {"loss": result.loss, "accuracy": accuracy, **class_report(context, scores, names)}


def class_report(
    context: TestContext, scores: dict[str, Any], names: Sequence[str], unit: str = "examples"
) -> dict[str, Any]:
    """The per-class table on the console, confusion.txt and confusion.png (rows normalised) in
    the run, and the test.json fields they come from; shared with the sequence task."""
    context.log(format_scores(scores, names))
    matrix = scores.pop("confusion")
    (context.run_dir / "confusion.txt").write_text(
        format_confusion(matrix, names), encoding="utf-8"
    )
    total = sum(map(sum, matrix))
    plot_confusion(
        context.run_dir / "confusion.png",
        matrix,
        names,
        title=f"{context.model}: {context.split} split, {total} {unit} (rows normalised)",
    )
    return {
        "examples": total,
        "confusion": matrix,
        "per_class": {
            name: {k: scores[k][i] for k in ("precision", "recall", "f1", "support")}
            for i, name in enumerate(names)
        },
        "macro": {k: scores[f"macro_{k}"] for k in ("precision", "recall", "f1")},
    }


def predictions(result: Collected, loss: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(predicted ids, true ids, number of classes) from the collected logits."""
    out, truth = result.out, result.targets.long().view(-1)
    if loss in BINARY or out.dim() == 1 or out.shape[1] == 1:
        predicted = (out.view(-1) > (0.5 if loss == "bce" else 0.0)).long()
        return predicted, truth, 2
    predicted = out.argmax(1)
    count = max(out.shape[1], int(truth.max()) + 1 if len(truth) else 0)
    return predicted, truth, count


def class_scores(predicted: torch.Tensor, truth: torch.Tensor, classes: int) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support, their macro means, the confusion counts."""
    args = (predicted, truth, classes)
    per_class = {
        "precision": multiclass_precision(*args, average=None, zero_division=0),
        "recall": multiclass_recall(*args, average=None, zero_division=0),
        "f1": multiclass_f1_score(*args, average=None, zero_division=0),
    }
    matrix = multiclass_confusion_matrix(*args)
    scores: dict[str, Any] = {k: [float(v) for v in values] for k, values in per_class.items()}
    scores["support"] = [int(v) for v in matrix.sum(1)]
    for k, values in per_class.items():
        scores[f"macro_{k}"] = float(values.mean())
    scores["confusion"] = matrix.tolist()
    return scores


def class_names(classes: Sequence[Any] | None, count: int) -> list[str]:
    if classes is not None and len(classes) >= count:
        return [str(c) for c in classes]
    return [str(i) for i in range(count)]


def format_scores(scores: dict[str, Any], names: Sequence[str]) -> str:
    """The per-class table of the console report, with the macro averages as its last row."""
    width = max([len(n) for n in names] + [9])
    lines = [f"{'class':>{width}}  precision  recall      f1  support"]
    for i, name in enumerate(names):
        lines.append(
            f"{name:>{width}}  {scores['precision'][i]:9.4f}  {scores['recall'][i]:6.4f}  "
            f"{scores['f1'][i]:6.4f}  {scores['support'][i]:7d}"
        )
    lines.append(
        f"{'macro avg':>{width}}  {scores['macro_precision']:9.4f}  "
        f"{scores['macro_recall']:6.4f}  {scores['macro_f1']:6.4f}  {sum(scores['support']):7d}"
    )
    return "\n".join(lines)


def format_confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> str:
    """A fixed-width table: rows are true classes, columns predicted classes."""
    labels = [str(c) for c in classes]
    width = max(
        [len(label) for label in labels] + [len(str(v)) for row in matrix for v in row] + [4]
    )
    header = " " * width + " | " + " ".join(label.rjust(width) for label in labels)
    lines = ["rows: true class, columns: predicted class", header, "-" * len(header)]
    for label, row in zip(labels, matrix):
        lines.append(label.rjust(width) + " | " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines) + "\n"


TASK = Classification()
