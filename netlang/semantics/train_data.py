"""What a train section's data source gives, where its arguments alone decide it: the sample
shape of the built-in sets (against the model's input, NL2054) and the files a source must find
(NL2053), so `check` refuses what `train` would refuse once it reads the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netlang.diagnostics import DiagnosticSink, error
from netlang.diagnostics.source import Span
from netlang.ir import Graph
from netlang.ir.types import format_shape
from netlang.semantics.train_inputs import shape_mismatch
from netlang.semantics.train_schema import CLASS_SOURCES, DATA, SCHEMA
from netlang.semantics.train_spec import Call, TrainSpec

# The samples of the built-in sets before `size` and `flatten`: (channels, height, width).
NATIVE_SAMPLES: dict[str, tuple[int, int, int]] = {
    "digits": (1, 8, 8),
    "mnist": (1, 28, 28),
    "notmnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "digit_scenes": (1, 64, 64),
}
# source -> the arguments naming files it reads, which must exist (mnist, notmnist and cifar10
# may download theirs: they are looked for when the data is read)
FILES: dict[str, tuple[str, ...]] = {
    "idx": ("images", "labels"),
    "image_folder": ("root",),
    "npz": ("path",),
    "csv": ("path",),
    "voc": ("root",),
    "coco": ("annotations", "images"),
    "text": ("path",),
    "text_folder": ("root",),
}


def check_train_data(spec: TrainSpec, graph: Graph, sink: DiagnosticSink) -> None:
    """Report a built-in set whose samples the model's input cannot take, and a data file that
    is not there; never raises."""
    for key in ("data", "test_data"):
        call = spec.entries.get(key)
        if not isinstance(call, Call) or call.name not in DATA:
            continue
        try:
            bound = call.bind(DATA[call.name])
        except ValueError:  # reported where the section is checked
            continue
        where = spec.spans.get(key) or spec.span
        kept = _kept_problem(call.name, bound.get("keep"))
        if kept is not None and where is not None:
            sink.report(error("NL2053", kept, call.value_span("keep", DATA[call.name]) or where))
        sample = static_sample(call.name, bound) or token_sample(call.name, spec.entries)
        problem = None if sample is None else input_shape_problem(graph, sample, call.name)
        if problem is not None and where is not None:
            sink.report(error("NL2054", problem[0], where, hint=problem[1]))
        for name, path in _missing_files(call, bound, where):
            written = call.value_span(name, DATA[call.name]) or where
            if written is not None:
                message = f"{call.name}: {name}={str(bound[name])!r}: {path} does not exist"
                hint = "paths are relative to the .net file"
                sink.report(error("NL2053", message, written, hint=hint))


def static_sample(source: str, bound: dict[str, Any]) -> tuple[int, ...] | None:
    """The shape of one sample of a built-in set (`size`, `flatten` applied), None for other
    sources or arguments that are not plain values (reported elsewhere)."""
    native = NATIVE_SAMPLES.get(source)
    if native is None:
        return None
    size, flatten = bound.get("size"), bound.get("flatten", False)
    if size is None:
        height, width = native[1:]
    elif _whole(size):
        height = width = size
    elif isinstance(size, list) and len(size) == 2 and all(_whole(s) for s in size):
        height, width = size
    else:
        return None
    if flatten is True:
        return (native[0] * height * width,)
    return (native[0], height, width) if flatten is False else None


TEXT_SOURCES = ("text", "text_folder")
TOKEN_LENGTH = 64  # tokenize's default length (netlang.data.tokenize.fit_tokenizer)


def token_sample(source: str, entries: dict[str, Any]) -> tuple[int, ...] | None:
    """A text source's sample: `tokenize`'s length of token ids (the default when it is not
    written), None for other sources or a length that is not a plain number."""
    if source not in TEXT_SOURCES:
        return None
    tokenize = entries.get("tokenize", Call("words"))
    if not isinstance(tokenize, Call) or tokenize.name not in SCHEMA["tokenize"]:
        return None
    try:
        length = tokenize.bind(SCHEMA["tokenize"][tokenize.name]).get("length", TOKEN_LENGTH)  # type: ignore[index]
    except ValueError:
        return None
    return (length,) if _whole(length) else None


def input_shape_problem(
    graph: Graph, sample: tuple[int, ...], source: str = ""
) -> tuple[str, str] | None:
    """(message, hint) when a source's samples, known from its arguments, cannot feed the
    model's one input (a 3-channel model on grey digits, a flattened set into a conv net, token
    ids of another length), by train's own rule, with the likely fix as the hint."""
    if len(graph.inputs) != 1:
        return None
    value = graph.inputs[0]
    problem = shape_mismatch(value, sample, "the data")
    if problem is None:
        return None
    message, hint = problem
    declared = value.type.shape[1:]
    declare = f"declare `input {value.name}: {value.type.dtype}{format_shape(('N', *sample))}`"
    if source in TEXT_SOURCES and len(declared) == 1:
        hint = f"{declare}, or write `tokenize words(length={declared[0]})`"
    elif len(sample) == 1 and len(declared) == 3:
        hint = f"the data is flattened: drop `flatten=true` for images, or {hint}"
    elif len(sample) == len(declared) == 3 and tuple(declared[1:]) == sample[1:]:
        channels = "1 channel (grey)" if sample[0] == 1 else f"{sample[0]} channels"
        hint = f"the data's images have {channels}: {declare}"
    elif len(sample) == 3 and len(declared) == 1:
        hint = f"the model takes vectors: give the data `flatten=true`, or {hint}"
    return message, hint


def _missing_files(call: Call, bound: dict[str, Any], where: Span | None) -> list[tuple[str, Path]]:
    """(argument, path) of each file the source must read that does not exist, relative to the
    `.net` file (known only when it is a file on disk; a source held in memory is skipped)."""
    if where is None or not Path(where.file).is_file():
        return []
    base = Path(where.file).parent
    found = []
    for name in FILES.get(call.name, ()):
        value = bound.get(name)
        if isinstance(value, str) and value:
            path = Path(value).expanduser()
            path = path if path.is_absolute() else base / path
            if not path.exists():
                found.append((name, path))
    return found


def _kept_problem(source: str, keep: Any) -> str | None:
    """A label number in `keep` that a set of a fixed class count lacks (names are checked
    when the data is read)."""
    count = CLASS_SOURCES.get(source) if source in NATIVE_SAMPLES else None
    if count is None or not isinstance(keep, list):
        return None
    for label in keep:
        if isinstance(label, int) and not isinstance(label, bool) and label >= count:
            return f"{source}: keep: {label} is not one of its classes (labels 0..{count - 1})"
    return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
