"""Run-directory records: per-epoch metric rows and test results -> metrics.csv/json, test.json,
confusion.txt (and, through netlang.train.plots, the PNGs).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
    "stage",
)


def _clean(value: Any) -> Any:
    """JSON has no NaN: missing or non-finite numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(run_dir: Path, history: Sequence[dict[str, Any]]) -> None:
    """metrics.csv and metrics.json, one row per finished epoch (empty cells where not measured)."""
    with open(run_dir / "metrics.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: "" if _clean(row.get(k)) is None else row[k] for k in COLUMNS})
    rows = [{k: _clean(row.get(k)) for k in COLUMNS} for row in history]
    (run_dir / "metrics.json").write_text(json.dumps(rows, indent=2) + "\n")


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


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
