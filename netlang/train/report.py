"""Run-directory records: per-epoch metric rows and test results -> metrics.csv/json, test.json."""

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


def columns(history: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """COLUMNS with the task's metric (the rows' train_<metric>) in place of accuracy."""
    keys = history[0] if history else {}
    metric = next((k[6:] for k in keys if k.startswith("train_") and k != "train_loss"), None)
    if metric is None or metric == "accuracy":
        return COLUMNS
    return tuple(c.replace("accuracy", metric) for c in COLUMNS)


def _clean(value: Any) -> Any:
    """JSON has no NaN: missing or non-finite numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(run_dir: Path, history: Sequence[dict[str, Any]]) -> None:
    """metrics.csv and metrics.json, one row per finished epoch (empty cells where not measured)."""
    names = columns(history)
    with open(run_dir / "metrics.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, names, lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: "" if _clean(row.get(k)) is None else row[k] for k in names})
    rows = [{k: _clean(row.get(k)) for k in names} for row in history]
    (run_dir / "metrics.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
