"""A train section against its model: layer patterns resolved on the IR's layer names (NL2051),
the loss against the model's output and the data's targets (NL2052), so `check` refuses what
train would refuse before its first batch; and a `softmax` fed to cross_entropy (NL2055), or
anything but a `log_softmax` to nll (NL2057)."""

from __future__ import annotations

from typing import Any

from netlang.diagnostics import DiagnosticSink, error, warning
from netlang.diagnostics.source import Span
from netlang.ir import Graph
from netlang.ir.types import format_shape
from netlang.semantics.layer_patterns import Layers, TransferError
from netlang.semantics import train_rules as rules
from netlang.semantics.train_data import check_train_data
from netlang.semantics.train_inputs import check_inputs
from netlang.semantics.train_rules import as_list
from netlang.semantics.train_schema import CLASS_SOURCES, DATA
from netlang.semantics.train_spec import Call, TrainSpec

# Sources whose val part is cut by `split` (the others may bring a val folder of their own).
VAL_BY_SPLIT = ("digits", "mnist", "notmnist", "cifar10", "idx", "npz", "csv", "text")
IMAGE_AUGMENTS = ("random_crop", "hflip", "rotate", "translate")
PATTERN_KEYS = ("replace", "freeze", "unfreeze")
CLASS_LOSSES = ("cross_entropy", "nll", "mse")  # losses that take class ids against [N, C]
BINARY_LOSSES = ("bce", "bce_with_logits")  # one score per sample against class ids 0 and 1
# Layers whose outputs lie in [0, 1], and layers that only move values, for `bce`'s input.
PROBABILITIES = ("sigmoid", "softmax", "hardsigmoid")
MOVES = ("reshape", "flatten", "permute", "select")
NOISE_HINT = "leave it out (noise(std) augments any input)"


def check_train_fit(spec: TrainSpec, graph: Graph, sink: DiagnosticSink) -> None:
    """Report every pattern that names no layer and a loss that cannot fit; never raises."""
    layers = Layers(node.name for node in graph.nodes)
    sections = [(spec.entries, spec.span)] + [(s.entries, s.span) for s in spec.stages]
    for entries, span in sections:
        for key, patterns in _patterns(entries):
            try:
                layers.match(patterns, key)
            except TransferError as problem:
                written = spec.item_spans.get(key, {}).get(problem.pattern or "")
                where = written or spec.spans.get(key) or span or _no(spec)
                sink.report(error("NL2051", problem.message, where, hint=problem.hint))
    for name, where in _all_frozen(spec, layers, graph):
        whom = f"stage {name} freezes" if name else "freeze names"
        message = f"{whom} every layer that learns: nothing would train"
        hint = "leave the new layers (the head) out of freeze, or unfreeze them"
        sink.report(error("NL2051", message, where or _no(spec), hint=hint))
    check_inputs(spec, graph, sink)
    problem = _loss_problem(spec.entries, graph) or _probability_problem(spec.entries, graph)
    if problem is not None:
        sink.report(error("NL2052", problem, spec.spans.get("loss") or _no(spec)))
    for entries, span in sections:
        monitor = _unsplit_monitor(spec.entries, entries)
        if monitor is not None:
            key = "early_stop" if "early_stop" in entries else "schedule"
            data = spec.entries["data"]
            sink.report(
                error(
                    "NL2050",
                    f"{key} watches {monitor}, and {data.name}'s split has no val part",
                    spec.spans.get(key) or span or _no(spec),
                    hint=f"give the data a val part, e.g. {data.name}(split=[0.8, 0.1, 0.1]), "
                    "or monitor train_loss",
                )
            )
        for call, problem, hint in _augment_problems(entries, graph):
            where = call.span or spec.spans.get("augment") or span or _no(spec)
            sink.report(error("NL2050", problem, where, hint=hint))
    lone = _lone_batchnorm(spec.entries, graph)
    if lone is not None:
        sink.report(
            error(
                "NL2050",
                f"batch 1 gives `{lone}` one value per channel to normalise, which cannot "
                "train (a batch's variance is 0)",
                spec.spans.get("batch") or _no(spec),
                hint="train with batch 2 or more, or use layernorm",
            )
        )
    softmax = _softmax_into_cross_entropy(spec.entries, graph)
    if softmax is not None:
        message = "the output comes out of `softmax`, and cross_entropy applies softmax itself"
        hint = "output the logits: drop the `softmax` (`netlang predict` prints probabilities)"
        sink.report(warning("NL2055", message, softmax, hint=hint))
    last = _nll_of_scores(spec.entries, graph)
    if last is not None:
        made = "probabilities" if last == "softmax" else "raw scores (logits)"
        message = f"the output is {made}, and nll takes log-probabilities"
        hint = "use cross_entropy on logits, or end the model with `log_softmax`"
        sink.report(warning("NL2057", message, spec.spans.get("loss") or _no(spec), hint=hint))
    check_train_data(spec, graph, sink)


def _all_frozen(spec: TrainSpec, layers: Layers, graph: Graph) -> list[tuple[str, Span | None]]:
    """(stage name, where) of each stage (or of the section, name "") whose freeze, less its
    unfreeze, covers every layer with parameters; a stage's own patterns, else the section's."""
    learning = {node.name for node in graph.nodes if node.params}
    plans = [(s.name, s.entries, s.span) for s in spec.stages] or [("", spec.entries, None)]
    found = []
    for name, entries, span in plans:
        chosen = {key: as_list(entries.get(key, spec.entries.get(key, []))) for key in PATTERN_KEYS}
        if not learning or not chosen["freeze"]:
            continue
        try:
            frozen = layers.match(chosen["freeze"], "freeze")
            frozen -= layers.match(chosen["unfreeze"], "unfreeze")
        except (TransferError, TypeError):  # reported above, or where the value is checked
            continue
        if learning <= frozen:
            where = span if "freeze" in entries and span is not None else spec.spans.get("freeze")
            found.append((name, where))
    return found


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
    if declared not in (None, "classification") or len(graph.outputs) != 1:
        return None  # class ids are the targets of an (inferred or declared) classification
    shape = graph.outputs[0].type.shape
    count = _class_count(entries, data)
    if loss.name in BINARY_LOSSES:
        return _binary_problem(loss.name, graph, data.name, count)
    if loss.name not in CLASS_LOSSES:
        return None
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


def _binary_problem(loss: str, graph: Graph, source: str, count: int | None) -> str | None:
    """bce scores one class against the other: an output [N, 1] and data of two classes."""
    output = graph.outputs[0]
    if output.type.shape[1:] not in ((), (1,)):
        return (
            f"loss {loss} takes one score per sample (binary classification), the output "
            f"{output.name} is {format_shape(output.type.shape)}: end the model with "
            "linear(1), or use cross_entropy for several classes"
        )
    if count is not None and count != 2:
        return (
            f"loss {loss} tells two classes apart, and {source} has {count}: keep two "
            f"(e.g. {source}(keep=[0, 1])), or use cross_entropy with linear({count})"
        )
    return None


def _probability_problem(entries: dict[str, Any], graph: Graph) -> str | None:
    """`bce` takes probabilities: the first output must come out of a sigmoid (or softmax)."""
    loss = entries.get("loss")
    if not isinstance(loss, Call) or loss.name != "bce" or not graph.outputs:
        return None
    producers = {out: node for node in graph.nodes for out in node.outputs}
    name = graph.outputs[0].name
    node = producers.get(name)
    while node is not None and node.op in MOVES:
        node = producers.get(node.inputs[0])
    if node is not None and node.op in PROBABILITIES:
        return None
    last = f"`{node.op}`" if node is not None else "the input"
    return (
        f"loss bce takes probabilities in [0, 1], and the output {name} comes out of {last}: "
        "end the model with sigmoid, or use bce_with_logits on the raw scores"
    )


def _unsplit_monitor(section: dict[str, Any], entries: dict[str, Any]) -> str | None:
    """The val_ metric early stopping or a plateau schedule of `entries` watches when the data
    (a source that has no val split of its own) is split with no val part, else None."""
    data = section.get("data")
    if not isinstance(data, Call) or data.name not in VAL_BY_SPLIT:
        return None
    try:
        if rules.split("split", data.bind(DATA[data.name]).get("split"))[1] > 0:
            return None
    except ValueError:  # reported where the section is checked
        return None
    watched = []
    for key in ("early_stop", "schedule"):
        call = entries.get(key)
        if isinstance(call, Call) and (key == "early_stop" or call.name == "plateau"):
            monitor = call.kwargs.get("monitor", "val_loss")
            watched.append(monitor.name if isinstance(monitor, Call) else str(monitor))
    return next((m for m in watched if m.startswith("val_")), None)


def _augment_problems(entries: dict[str, Any], graph: Graph) -> list[tuple[Call, str, str]]:
    """(call, message, hint) of each augmentation that cannot apply to the model's input: pixel
    moves on a tensor that is not an image batch, a random_crop to another size than the
    input's (the model would be given windows of that size). Of several inputs, the pixel moves
    act on the float image batches (netlang.data.augment), and need one."""
    if not graph.inputs:
        return []
    several = len(graph.inputs) > 1
    images = [v for v in graph.inputs if len(v.type.shape) == 4 and v.type.dtype == "float32"]
    found = []
    for call in as_list(entries.get("augment")):
        if not isinstance(call, Call) or call.name not in IMAGE_AUGMENTS:
            continue
        value = graph.inputs[0]
        if several and not images:
            names = ", ".join(f"{v.name} {format_shape(v.type.shape)}" for v in graph.inputs)
            problem = f"augment {call.name} moves the pixels of image batches [N, C, H, W]"
            found.append((call, f"{problem}, and no input is one ({names})", NOISE_HINT))
            continue
        if not several and len(value.type.shape) != 4:
            found.append(
                (
                    call,
                    f"augment {call.name} moves the pixels of image batches [N, C, H, W], and "
                    f"the input {value.name} is {format_shape(value.type.shape)}",
                    NOISE_HINT,
                )
            )
            continue
        size = call.kwargs.get("size", call.args[0] if call.args else None)
        crop = [size, size] if isinstance(size, int) else size
        for value in images if several else [value]:
            shape = value.type.shape
            if call.name == "random_crop" and isinstance(crop, list) and crop != list(shape[2:]):
                found.append(
                    (
                        call,
                        f"random_crop cuts {format_shape(tuple(crop))} windows, and the input "
                        f"{value.name} takes {format_shape(shape[2:])}",
                        f"crop to the input's size, e.g. random_crop({shape[2]}, padding=4): "
                        "the padding makes room to move",
                    )
                )
    return found


def _lone_batchnorm(entries: dict[str, Any], graph: Graph) -> str | None:
    """The first batch norm (`op`, or `op` `name` when named) that `batch 1` leaves one value
    per channel (no spatial axes)."""
    if entries.get("batch") != 1:
        return None
    for node in graph.nodes:
        sizes = node.input_types[0].shape[2:] if node.input_types else ()
        if node.op.startswith("batchnorm") and all(d == 1 for d in sizes):
            named = not node.name.replace(".", "").isdigit()
            return f"{node.op}` `{node.name}" if named else node.op
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


def _nll_of_scores(entries: dict[str, Any], graph: Graph) -> str | None:
    """The op that makes the one output `loss nll` is given, when it is no `log_softmax`
    (through layers that only move values): nll of logits trains towards ever larger scores."""
    loss = entries.get("loss")
    if not (isinstance(loss, Call) and loss.name == "nll") or len(graph.outputs) != 1:
        return None
    producers = {name: node for node in graph.nodes for name in node.outputs}
    last = producers.get(graph.outputs[0].name)
    while last is not None and last.op in MOVES and last.inputs:
        last = producers.get(last.inputs[0])
    return last.op if last is not None and last.op != "log_softmax" else None


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
