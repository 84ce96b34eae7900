"""Check-time task rules: which output shapes fit each task, so `netlang check` can say, at the
train section's `task` (or `loss`) line, that a model cannot be trained as asked. No torch; the
tasks' training behaviour lives in netlang.tasks, one module each, under the same names.
"""

from __future__ import annotations

from collections.abc import Callable

from netlang.diagnostics import DiagnosticSink, error
from netlang.diagnostics.source import Span
from netlang.ir import Graph
from netlang.ir.types import TensorType, format_shape
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


TASK_RULES: dict[str, ShapeRule] = {
    "classification": _classification,
    "reconstruction": _reconstruction,
    "regression": _regression,
    "sequence": _sequence,
}
TASK_NAMES = tuple(TASK_RULES)
REGRESSION_LOSSES = ("mse", "mae", "huber")


def declared_task(spec: TrainSpec) -> str | None:
    value = spec.entries.get("task")
    return value.name if isinstance(value, Call) else None


def check_task(graph: Graph, spec: TrainSpec, sink: DiagnosticSink) -> None:
    """Report, at the `task` entry, a model output that does not fit the declared task."""
    task = declared_task(spec)
    if task is None or task not in TASK_RULES or not graph.inputs or not graph.outputs:
        return
    problem = TASK_RULES[task](graph.inputs[0].type, graph.outputs[0].type)
    if problem is not None:
        where: Span | None = spec.spans.get("task", spec.span)
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
    }.get(task, "")


def _shape(t: TensorType) -> str:
    return format_shape(t.shape)
