"""Task checks: a model's graph + its train section -> diagnostics where the output cannot be
trained for the section's task (a YOLO grid for detection, per-pixel scores for segmentation).

The task is the declared `task`, else the one the loss (`yolo`, `dice`) or the data's
`target="masks"|"boxes"` implies, else classification (which is not checked here).
"""

from __future__ import annotations

from typing import Any

from netlang.diagnostics import DiagnosticSink, error
from netlang.ir import Graph, format_shape
from netlang.semantics.train_schema import DATA
from netlang.semantics.train_spec import Call

IMPLIED_BY_LOSS = {"yolo": "detection", "dice": "segmentation"}
IMPLIED_BY_TARGET = {"boxes": "detection", "masks": "segmentation"}


def infer_task(entries: dict[str, Any]) -> str:
    """The task a train section's entries declare or imply."""
    task = entries.get("task")
    if isinstance(task, Call):
        return task.name
    loss = entries.get("loss")
    if isinstance(loss, Call) and loss.name in IMPLIED_BY_LOSS:
        return IMPLIED_BY_LOSS[loss.name]
    target = data_target(entries.get("data"))
    if isinstance(target, str) and target in IMPLIED_BY_TARGET:
        return IMPLIED_BY_TARGET[target]
    return "classification"


def data_target(data: Any) -> Any:
    """The `target` a data call names (positionally or by keyword), or None."""
    if not isinstance(data, Call) or data.name not in DATA:
        return None
    try:
        return data.bind(DATA[data.name]).get("target")
    except ValueError:  # reported where the section is checked
        return None


def check_task(graph: Graph, sink: DiagnosticSink) -> None:
    """Report (NL3010) an output that does not fit the train section's task."""
    spec = graph.train
    if spec is None or not graph.outputs or not graph.inputs:
        return
    task = infer_task(spec.entries)
    output, image = graph.outputs[0].type.shape, graph.inputs[0].type.shape
    span = spec.spans.get("task") or spec.spans.get("loss") or spec.span
    if span is None:
        return
    problem = None
    if task == "detection":
        loss = spec.entries.get("loss")
        boxes = loss.kwargs.get("boxes", 2) if isinstance(loss, Call) else 2
        if len(output) != 4 or output[1] != output[2]:
            problem = "detection needs a YOLO grid output [N, S, S, 5 * boxes + classes]"
        elif isinstance(output[3], int) and isinstance(boxes, int) and output[3] <= 5 * boxes:
            problem = (
                f"a grid of depth {output[3]} leaves no class scores for {boxes} boxes per cell "
                "(depth = 5 * boxes + classes)"
            )
    elif task == "segmentation":
        if len(output) != 4 or len(image) != 4 or tuple(output[2:]) != tuple(image[2:]):
            problem = (
                "segmentation needs per-pixel class scores [N, classes, H, W] of the input's "
                f"height and width {format_shape(image[2:]) if len(image) == 4 else ''}".rstrip()
            )
    if problem is not None:
        sink.report(
            error(
                "NL3010",
                f"{problem}; {graph.name} outputs {format_shape(output)}",
                span,
                hint="change the model's head, or the train section's task and loss",
            )
        )
