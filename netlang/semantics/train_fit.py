"""A train section against its model: layer patterns resolved on the IR's layer names (NL2051),
the loss against the model's output and the data's targets (NL2052), so `check` refuses what
train would refuse before its first batch; and a `softmax` fed to cross_entropy (NL2055)."""

from __future__ import annotations

from typing import Any

from netlang.diagnostics import DiagnosticSink, error, warning
from netlang.diagnostics.source import Span
from netlang.ir import Graph
from netlang.ir.types import format_shape
from netlang.semantics.layer_patterns import Layers, TransferError
from netlang.semantics.train_rules import as_list
from netlang.semantics.train_spec import Call, TrainSpec

PATTERN_KEYS = ("replace", "freeze", "unfreeze")
# Data sources whose targets are class ids, with their class count where it is fixed.
CLASS_SOURCES: dict[str, int | None] = {
    "digits": 10,
    "mnist": 10,
    "idx": None,
    "image_folder": None,
}
CLASS_LOSSES = ("cross_entropy", "nll", "mse")  # losses that take class ids against [N, C]


def check_train_fit(spec: TrainSpec, graph: Graph, sink: DiagnosticSink) -> None:
    """Report every pattern that names no layer and a loss that cannot fit; never raises."""
    layers = Layers(node.name for node in graph.nodes)
    sections = [(spec.entries, spec.span)] + [(s.entries, s.span) for s in spec.stages]
    for entries, span in sections:
        for key, patterns in _patterns(entries):
            try:
                layers.match(patterns, key)
            except TransferError as problem:
                sink.report(error("NL2051", str(problem), spec.spans.get(key) or span or _no(spec)))
    if len(graph.inputs) > 1 and "data" in spec.entries:
        names = ", ".join(value.name for value in graph.inputs)
        message = (
            f"the data gives one input a sample, but {graph.name} takes {len(graph.inputs)} "
            f"({names})"
        )
        hint = "netlang train feeds single-input models: join the inputs into one"
        sink.report(error("NL2054", message, spec.spans.get("data") or _no(spec), hint=hint))
    problem = _loss_problem(spec.entries, graph)
    if problem is not None:
        sink.report(error("NL2052", problem, spec.spans.get("loss") or _no(spec)))
    softmax = _softmax_into_cross_entropy(spec.entries, graph)
    if softmax is not None:
        message = "the output comes out of `softmax`, and cross_entropy applies softmax itself"
        hint = "output the logits: drop the `softmax` (`netlang predict` prints probabilities)"
        sink.report(warning("NL2055", message, softmax, hint=hint))


def _patterns(entries: dict[str, Any]) -> list[tuple[str, list[str]]]:
    found = [
        (key, [p for p in as_list(entries[key]) if isinstance(p, str)])
        for key in PATTERN_KEYS
        if key in entries
    ]
    lr_mult = entries.get("lr_mult")
    if isinstance(lr_mult, Call) and lr_mult.kwargs:
        found.append(("lr_mult", list(lr_mult.kwargs)))
    return found


def _loss_problem(entries: dict[str, Any], graph: Graph) -> str | None:
    data, task = entries.get("data"), entries.get("task")
    loss = entries.get("loss", Call("cross_entropy"))
    if not isinstance(data, Call) or data.name not in CLASS_SOURCES or not isinstance(loss, Call):
        return None
    declared = task.name if isinstance(task, Call) else None
    if declared not in (None, "classification") or loss.name not in CLASS_LOSSES:
        return None  # class ids are the targets of an (inferred or declared) classification
    if len(graph.outputs) != 1:
        return None
    shape = graph.outputs[0].type.shape
    count = _class_count(entries, data)
    if len(shape) != 2 or not isinstance(shape[1], int):
        if declared is not None:
            return None  # semantics.tasks says so at the `task` line
        output = f"{graph.outputs[0].name} {format_shape(shape)}"
        return (
            f"loss {loss.name} compares the output {output} with "
            f"{data.name}'s targets, one class id per sample; it needs an output [N, classes] "
            "(a classifier), or data whose targets have the output's shape"
        )
    if count is not None and shape[1] != count:
        return (
            f"the output {graph.outputs[0].name} has {shape[1]} classes but {data.name} has "
            f"{count}: set the model's class count to {count}"
        )
    return None


def _softmax_into_cross_entropy(entries: dict[str, Any], graph: Graph) -> Span | None:
    """Where the one output's last layer is a softmax that cross_entropy would apply again
    (the model then learns slowly, if at all: its gradients are squashed)."""
    loss, data = entries.get("loss"), entries.get("data")
    explicit = isinstance(loss, Call) and loss.name == "cross_entropy"
    implied = loss is None and isinstance(data, Call) and data.name in CLASS_SOURCES
    if not (explicit or implied) or len(graph.outputs) != 1:
        return None
    last = next((n for n in graph.nodes if graph.outputs[0].name in n.outputs), None)
    return last.origin if last is not None and last.op == "softmax" else None


def _class_count(entries: dict[str, Any], data: Call) -> int | None:
    """How many classes the data gives: `keep`'s, else the names written, else the source's."""
    if "keep" in data.kwargs:
        keep = data.kwargs["keep"]
        return len(keep) if isinstance(keep, list) else None
    written = entries.get("classes") or data.kwargs.get("classes")
    return len(written) if isinstance(written, list) else CLASS_SOURCES[data.name]


def _no(spec: TrainSpec) -> Span:
    assert spec.span is not None
    return spec.span
