"""Check-time task rules: which output shapes fit each task, so `netlang check` can say, at the
train section's `task` (or `loss`) line, that a model cannot be trained as asked. No torch; the
tasks' training behaviour lives in netlang.tasks, one module each, under the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netlang.diagnostics import DiagnosticSink, error
from netlang.diagnostics.source import Span
from netlang.ir import Graph
from netlang.ir.types import TensorType, format_shape
from netlang.semantics.train_schema import DATA
from netlang.semantics.train_spec import Call, TrainSpec

# (first input, first output) -> what is wrong, or None when the output fits the task
ShapeRule = Callable[[TensorType, TensorType], "str | None"]


def _classification(x: TensorType, out: TensorType) -> str | None:
    if out.rank != 2:
        return f"a classifier's output is [N, classes], this model's is {_shape(out)}"
    return None


def _reconstruction(x: TensorType, out: TensorType) -> str | None:
    if tuple(out.shape[1:]) != tuple(x.shape[1:]):
        return (
            f"a reconstruction's output has the input's shape {_shape(x)}, this model's is "
            f"{_shape(out)}"
        )
    if out.dtype != x.dtype or not out.dtype.startswith("float"):
        return f"a reconstruction needs float inputs and outputs, got {x.dtype} -> {out.dtype}"
    return None


def _regression(x: TensorType, out: TensorType) -> str | None:
    if out.rank < 2:
        return f"a regression's output is [N, targets], this model's is {_shape(out)}"
    return None


def _sequence(x: TensorType, out: TensorType) -> str | None:
    if out.rank != 3:
        return (
            f"a sequence labeller's output is [N, T, classes] (a class per time step), "
            f"this model's is {_shape(out)}"
        )
    return None


def _segmentation(x: TensorType, out: TensorType) -> str | None:
    if out.rank != 4 or x.rank != 4 or tuple(out.shape[2:]) != tuple(x.shape[2:]):
        size = format_shape(x.shape[2:]) if x.rank == 4 else "H, W"
        return (
            f"a segmenter's output is per-pixel class scores [N, classes, H, W] of the input's "
            f"size {size}, this model's is {_shape(out)}"
        )
    return None


def _detection(x: TensorType, out: TensorType, boxes: int = 2) -> str | None:
    if out.rank != 4 or out.shape[1] != out.shape[2]:
        return (
            f"a YOLO detector's output is the grid [N, S, S, 5 * boxes + classes], this model's "
            f"is {_shape(out)}"
        )
    if isinstance(out.shape[3], int) and out.shape[3] <= 5 * boxes:
        return (
            f"a grid of depth {out.shape[3]} leaves no class scores for {boxes} boxes per cell "
            "(depth = 5 * boxes + classes)"
        )
    return None


TASK_RULES: dict[str, ShapeRule] = {
    "classification": _classification,
    "reconstruction": _reconstruction,
    "regression": _regression,
    "sequence": _sequence,
    "segmentation": _segmentation,
    "detection": _detection,
}
TASK_NAMES = tuple(TASK_RULES)
REGRESSION_LOSSES = ("mse", "mae", "huber")


# image tasks that the loss or the data's `target` implies when no `task` is written
IMPLIED_BY_LOSS = {"yolo": "detection", "dice": "segmentation"}
IMPLIED_BY_TARGET = {"boxes": "detection", "masks": "segmentation"}


def declared_task(spec: TrainSpec) -> str | None:
    return infer_task(spec.entries)


def infer_task(entries: dict[str, Any]) -> str | None:
    """The written task, else detection or segmentation when the loss (`yolo`, `dice`) or the
    data's `target` says so, else None (the trainer infers it from the data's targets)."""
    task = entries.get("task")
    if isinstance(task, Call):
        return task.name
    loss = entries.get("loss")
    if isinstance(loss, Call) and loss.name in IMPLIED_BY_LOSS:
        return IMPLIED_BY_LOSS[loss.name]
    target = data_target(entries.get("data"))
    return IMPLIED_BY_TARGET.get(target) if isinstance(target, str) else None


def data_target(data: Any) -> Any:
    """The `target` a data call names (positionally or by keyword), or None."""
    if not isinstance(data, Call) or data.name not in DATA:
        return None
    try:
        return data.bind(DATA[data.name]).get("target")
    except ValueError:  # reported where the section is checked
        return None


def check_task(graph: Graph, spec: TrainSpec, sink: DiagnosticSink) -> None:
    """Report, at the `task` entry, a model output that does not fit the declared task."""
    task = declared_task(spec)
    if task is None or task not in TASK_RULES or not graph.inputs or not graph.outputs:
        return
    x, out = graph.inputs[0].type, graph.outputs[0].type
    loss = spec.entries.get("loss")
    boxes = loss.kwargs.get("boxes", 2) if isinstance(loss, Call) else 2
    if task == "detection" and isinstance(boxes, int):
        problem = _detection(x, out, boxes)
    else:
        problem = TASK_RULES[task](x, out)
    if problem is not None:
        where: Span | None = spec.spans.get("task") or spec.spans.get("loss") or spec.span
        sink.report(
            error(
                "NL2005",
                f"task {task}: {problem}",
                where,
                hint=_hint(task),
            )
        )


def _hint(task: str) -> str:
    return {
        "classification": "end the model with linear(classes), or declare another task",
        "reconstruction": "decode back to the input's shape (e.g. conv_transpose2d/upsample)",
        "regression": "end the model with linear(targets)",
        "sequence": "keep the time axis: [N, T, F] -> linear(classes) without select",
        "segmentation": "end with a 1x1 conv2d(classes) at the input's resolution (see unet)",
        "detection": "end with the YOLO grid head (see yolo.net's GridHead)",
    }.get(task, "")


def _shape(t: TensorType) -> str:
    return format_shape(t.shape)
