"""Which task a run is: the train section's `task`, or one inferred from the data's targets;
each task name maps to the module that holds it (imported only when a run needs it)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import numpy as np

from netlang.semantics.tasks import TASK_NAMES

if TYPE_CHECKING:
    from netlang.data import DataSplits
    from netlang.tasks.base import Task

# task name -> the module whose TASK object implements it; a new task is a module and a line.
TASK_MODULES = {
    "classification": "netlang.tasks.classification",
    "reconstruction": "netlang.tasks.reconstruction",
    "regression": "netlang.tasks.regression",
    "sequence": "netlang.tasks.sequence",
    "segmentation": "netlang.tasks.segmentation",
    "detection": "netlang.tasks.detection",
}
assert set(TASK_MODULES) <= set(TASK_NAMES), "every task needs a check-time shape rule"

CLASS_LOSSES = ("cross_entropy", "nll", "bce", "bce_with_logits")


def get_task(name: str) -> Task:
    if name not in TASK_MODULES:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASK_MODULES)}")
    return importlib.import_module(TASK_MODULES[name]).TASK


def infer_task(declared: str | None, loss: str | None, splits: DataSplits) -> str:
    """The declared task, else: padded boxes -> detection, masks of the image's size ->
    segmentation, float targets -> regression (binary classification with a bce
    loss), integer targets with a time axis -> sequence, integer targets -> classification."""
    if declared is not None:
        return declared
    y, x = splits.train.y, splits.train.x
    one = isinstance(x, np.ndarray)  # boxes and masks are one image input's, not several's
    if one and y.dtype.kind == "f" and y.ndim == 3 and y.shape[2] == 5:  # padded boxes
        return "detection"
    if one and y.dtype.kind in "iu" and x.ndim == 4 and y.shape[1:] == x.shape[2:]:  # masks
        return "segmentation"
    if y.dtype.kind == "f" and loss not in CLASS_LOSSES:
        return "regression"
    if y.dtype.kind in "iu" and y.ndim >= 2:
        return "sequence"
    return "classification"
