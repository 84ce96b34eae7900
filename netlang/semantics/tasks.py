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
from netlang.semantics.train_schema import CLASS_SOURCES, DATA
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


# The loss each image task trains with, and the targets its data must bring.
TASK_LOSSES = {"segmentation": ("cross_entropy", "dice"), "detection": ("yolo",)}
# the targets each annotated source gives (default first)
SOURCE_TARGETS = {"digit_scenes": ("boxes", "masks"), "coco": ("boxes", "masks"), "voc": ("boxes",)}
TASK_TARGET = {"segmentation": "masks", "detection": "boxes"}


def task_problems(task: str, entries: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for a loss the task does not train with and data without the task's
    targets: what `train` refuses, so `check` says it at that key's line."""
    loss = entries.get("loss")
    loss_name = loss.name if isinstance(loss, Call) else None
    problems = []
    if task in TASK_LOSSES and loss_name is not None and loss_name not in TASK_LOSSES[task]:
        trains = " or ".join(TASK_LOSSES[task])
        problems.append(("loss", f"train.loss: task {task} trains with {trains}, not {loss_name}"))
    if task not in TASK_LOSSES and loss_name in ("yolo", "dice"):
        problems.append(
            ("loss", f"train.loss: {loss_name} is a loss for detection or segmentation")
        )
    data = entries.get("data")
    if task not in TASK_TARGET or not isinstance(data, Call):
        return problems
    wanted, offered = TASK_TARGET[task], SOURCE_TARGETS.get(data.name)
    if offered is None:
        problems.append(
            (
                "data",
                f"train.data: task {task} needs boxes or masks; {data.name} gives class labels "
                f"(use {', '.join(sorted(SOURCE_TARGETS))})",
            )
        )
        return problems
    target = data_target(data) or offered[0]
    if target != wanted:
        problems.append(
            (
                "data",
                f'train.data: task {task} trains on {wanted}: give {data.name}(target="{wanted}")'
                if wanted in offered
                else f"train.data: {data.name} has no {wanted} for task {task}",
            )
        )
    return problems


def check_task(graph: Graph, spec: TrainSpec, sink: DiagnosticSink) -> None:
    """Report, at the `task` entry, a model output that does not fit the declared task."""
    task = declared_task(spec)
    if task is None or task not in TASK_RULES or not graph.inputs or not graph.outputs:
        return
    x, out = graph.inputs[0].type, graph.outputs[0].type
    loss = spec.entries.get("loss")
    boxes = loss.kwargs.get("boxes", 2) if isinstance(loss, Call) else 2
    hint = _hint(task)
    if task == "detection" and isinstance(boxes, int):
        problem = _detection(x, out, boxes)
        if problem is None:
            problem = _grid_classes(out, boxes, spec.entries.get("data"))
            hint = "depth = 5 * boxes + classes: give the loss the head's boxes, yolo(boxes=...)"
    else:
        problem = TASK_RULES[task](x, out)
    if problem is None:
        problem, hint = _target_problem(task, spec.entries.get("data"), graph.outputs[0])
    if problem is not None:
        where: Span | None = spec.spans.get("task") or spec.spans.get("loss") or spec.span
        sink.report(
            error(
                "NL2005",
                f"task {task}: {problem}",
                where,
                hint=hint,
            )
        )
    for key, message in task_problems(task, spec.entries):
        written = spec.spans.get(key) or spec.span
        if written is not None:
            sink.report(error("NL2052", message, written))
    against = _loss_problem(task, spec.entries)
    if against is not None:
        where = spec.spans.get("loss") or spec.spans.get("task") or spec.span
        sink.report(error("NL2052", against[0], where, hint=against[1]))


# losses that take class ids as targets, never the numbers of a regression or a reconstruction
CLASS_ID_LOSSES = ("cross_entropy", "nll")


def _target_problem(task: str, data: Any, output: Any) -> tuple[str | None, str]:
    """(problem, hint) for a data source whose targets are one class id per sample, trained as
    a regression (one number per sample) or as sequence labelling (one class id per step)."""
    hint = "for classes, leave `task` out: class ids make a classification"
    if not isinstance(data, Call) or data.name not in (*CLASS_SOURCES, "csv"):
        return None, hint
    shape = output.type.shape
    if task == "regression" and shape[1:] not in ((), (1,)):
        what = "its label column" if data.name == "csv" else "its class id"
        return (
            f"{data.name}'s targets are one number per sample ({what}), and the output "
            f"{output.name} is {format_shape(shape)}"
        ), ("end the model with linear(1)" if data.name == "csv" else hint)
    if task == "sequence":
        return f"{data.name}'s targets are one class id per sample, not one per time step", hint
    return None, hint


def _loss_problem(task: str, entries: dict[str, Any]) -> tuple[str, str] | None:
    """(message, hint) for a loss that cannot take the task's targets: class-id losses against
    numbers, `bce` against a reconstruction of inputs that normalisation moved out of [0, 1]."""
    loss = entries.get("loss")
    if task not in ("regression", "reconstruction") or not isinstance(loss, Call):
        return None
    targets = "the input itself" if task == "reconstruction" else "numbers"
    if loss.name in CLASS_ID_LOSSES:
        return (
            f"loss {loss.name} takes class ids, and a {task}'s targets are {targets}",
            "use mse or mae",
        )
    normalize = entries.get("normalize", Call("standardize"))
    kind = normalize.name if isinstance(normalize, Call) else None
    if task == "reconstruction" and loss.name == "bce" and kind not in (None, "none"):
        return (
            f"loss bce takes targets in [0, 1], and `normalize {kind}` moves the inputs (a "
            "reconstruction's targets) out of it",
            "add `normalize none` (the built-in image sets lie in [0, 1]), or use mse",
        )
    data = entries.get("data")
    count = CLASS_SOURCES.get(data.name) if isinstance(data, Call) else None
    if task == "regression" and loss.name.startswith("bce") and count is not None and count > 2:
        return (
            f"loss {loss.name} takes targets in [0, 1], and {data.name}'s class ids go up to "
            f"{count - 1}",
            "for classes, leave `task` out and use cross_entropy; a regression takes mse or mae",
        )
    return None


# annotated sources whose class count is fixed
SCENE_CLASSES = {"digit_scenes": 10}


def _grid_classes(out: TensorType, boxes: int, data: Any) -> str | None:
    """A YOLO grid whose depth, less 5 numbers per box, leaves another class count than the
    data's (the loss's `boxes` against the model's head)."""
    count = SCENE_CLASSES.get(data.name) if isinstance(data, Call) else None
    depth = out.shape[3] if out.rank == 4 else None
    if count is None or not isinstance(depth, int) or depth - 5 * boxes == count:
        return None
    return (
        f"the grid's depth {depth} is 5 * {boxes} boxes + {depth - 5 * boxes} classes, and "
        f"{data.name} has {count} classes"
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
