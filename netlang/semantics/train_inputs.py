"""A multi-input model's data: which sources give several inputs a sample, which arrays of an
`.npz` feed which input (the one naming rule the data layer reads by), and what `check` can
see of a file without loading it (its zip directory and the `.npy` headers: names, shapes).

A source that gives one input a sample still meets a model of several with NL2054; a named
array missing from the file, or of another shape than its input, is NL2054 at the data line.
"""

from __future__ import annotations

import ast
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlang.diagnostics import DiagnosticSink, error
from netlang.ir import Graph
from netlang.ir.graph import Value
from netlang.ir.types import format_shape
from netlang.semantics.tasks import declared_task
from netlang.semantics.train_schema import DATA
from netlang.semantics.train_spec import Call, TrainSpec

if TYPE_CHECKING:
    import zipfile

MULTI_INPUT_SOURCES = ("npz",)  # sources that give each model input its own array
# tasks whose targets or pictures are one image input's (masks, boxes, the input itself)
ONE_INPUT_TASKS = ("reconstruction", "segmentation", "detection")
_NPY_MAGIC = b"\x93NUMPY"


def npz_arrays(x: Any, y: Any, inputs: Sequence[str] | None) -> tuple[list[str], str]:
    """(the feature arrays in input order, the target array) of `npz(x=..., y=...)`: one array
    `x` (default "x") for a single-input model; for several inputs, the arrays named as the
    inputs, or those `x` lists in input order. The test part adds `_test` to each name.

    Raises:
        ValueError: `x` or `y` is not an array name, or `x` lists a name per input wrongly.
    """
    target = "y" if y is None else y
    if not isinstance(target, str):
        raise ValueError(f"npz: y={y!r}: expected an array name")
    if inputs is None or len(inputs) == 1:
        single = "x" if x is None else x
        if not isinstance(single, str):
            raise ValueError(f"npz: x={x!r}: expected an array name")
        return [single], target
    if x is None:
        return list(inputs), target
    if not isinstance(x, list) or len(x) != len(inputs) or not all(isinstance(a, str) for a in x):
        raise ValueError(
            f"npz: x={x!r}: the model takes {len(inputs)} inputs ({', '.join(inputs)}): give "
            f"one array name per input, in that order, or leave x out to read arrays named "
            f"{', '.join(inputs)}"
        )
    return list(x), target


def check_inputs(spec: TrainSpec, graph: Graph, sink: DiagnosticSink) -> None:
    """Report a data source that cannot feed the model's inputs; never raises."""
    if len(graph.inputs) < 2:
        return
    task = declared_task(spec)
    if task in ONE_INPUT_TASKS:
        names = ", ".join(value.name for value in graph.inputs)
        where = spec.spans.get("task") or spec.spans.get("loss") or spec.spans.get("data")
        if where is not None:
            message = f"{task} trains models of one image input, and {graph.name} takes {names}"
            hint = "several inputs train as classification or regression"
            sink.report(error("NL2054", message, where, hint=hint))
    for key in ("data", "test_data"):
        call = spec.entries.get(key)
        where = spec.spans.get(key) or spec.span
        if not isinstance(call, Call) or where is None:
            continue
        names = [value.name for value in graph.inputs]
        if call.name not in MULTI_INPUT_SOURCES:
            message = (
                f"the data gives one input a sample, but {graph.name} takes "
                f"{len(names)} ({', '.join(names)})"
            )
            hint = (
                f"{call.name} feeds one input: give each input its own array with npz(path) "
                f"(arrays {', '.join(names)} and y)"
            )
            sink.report(error("NL2054", message, where, hint=hint))
            continue
        for problem, hint in _npz_problems(call, graph, Path(where.file).parent):
            span = call.value_span("path", DATA["npz"]) or where
            sink.report(error("NL2054", problem, span, hint=hint))


def _npz_problems(call: Call, graph: Graph, base_dir: Path) -> list[tuple[str, str]]:
    """(message, hint) of each array the model's inputs need that the file lacks or holds in
    another shape; nothing when the file cannot be read now (train says so when it loads it)."""
    try:
        args = call.bind(DATA["npz"])
        arrays, target = npz_arrays(args.get("x"), args.get("y"), [v.name for v in graph.inputs])
    except ValueError as problem:  # a bad x/y: said here, as train would say it
        return [(str(problem), "see README: several inputs")]
    path = args.get("path")
    if not isinstance(path, str):
        return []
    file = _resolved(path, base_dir)
    headers = npz_headers(file)
    if headers is None:
        if not file.is_file():
            return []  # not there yet: train names it when it loads the data
        return [(f"{path} is not an .npz archive", "write it with np.savez(path, name=array, ...)")]
    found = []
    if target not in headers:
        listed = ", ".join(sorted(headers)) or "no arrays"
        hint = f'save the targets as {target}=..., or name their array with y="..."'
        found.append((f"{path} has no array {target!r} of targets (it has {listed})", hint))
    for value, array in zip(graph.inputs, arrays):
        if array not in headers:
            listed = ", ".join(sorted(headers)) or "no arrays"
            found.append(
                (
                    f"{path} has no array {array!r} for the input {value.name} (it has {listed})",
                    f"save it with np.savez(path, {array}=..., ...), or list the arrays in "
                    "input order with x=[...]",
                )
            )
        elif headers[array] is not None:
            shape, kind = headers[array]  # type: ignore[misc]
            mismatch = shape_mismatch(value, shape[1:], f"array {array!r}", kind)
            if mismatch is not None:
                found.append(mismatch)
    counts = {a: headers[a][0][0] for a in arrays if headers.get(a) is not None}  # type: ignore[index]
    if not found and len(set(counts.values())) > 1:
        given = ", ".join(f"{a} {n}" for a, n in counts.items())
        found.append(
            (
                f"{path}: the inputs' arrays hold different sample counts ({given})",
                "every input needs one row per sample, in the same order",
            )
        )
    return found


def shape_mismatch(
    value: Value, sample: Sequence[int], given: str, kind: str | None = None
) -> tuple[str, str] | None:
    """(message, hint) when samples of `sample` shape, of numbers of `kind` as loaded ("f":
    float32, "i": int64 token ids; None: not known), cannot feed the input `value`."""
    wants = "i" if value.type.dtype.startswith(("int", "uint")) else "f"
    if kind is not None and kind != wants:
        loaded = {"f": "floats (float32)", "i": "integers (int64 token ids)"}
        message = (
            f"{given} holds {loaded[kind]}, and the model's input {value.name} is "
            f"{value.type.dtype}"
        )
        hint = (
            "save token ids as an integer array and declare the input int64"
            if wants == "i"
            else "save features as floats (uint8 pictures are scaled to [0, 1])"
        )
        return message, hint
    declared = value.type.shape[1:]
    if len(declared) == len(sample) and all(
        not isinstance(d, int) or d == s for d, s in zip(declared, sample)
    ):
        return None
    shown = format_shape(("N", *sample))
    message = (
        f"{given} gives samples {shown}, but the model's input {value.name} is "
        f"{format_shape(value.type.shape)}"
    )
    hint = f"declare `input {value.name}: {value.type.dtype}{shown}`, or change the data's size"
    return message, hint


def npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], str | None] | None] | None:
    """Array name -> (shape, what the data layer loads it as: "f" floats, "i" token ids) of an
    .npz (None where its header cannot be read), read from its zip directory and each `.npy`
    header alone; None when the file is not a readable zip."""
    import zipfile  # only when a model of several inputs meets an npz: not on every check

    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.endswith(".npy")]
            return {m[: -len(".npy")]: _npy_shape(archive, m) for m in members}
    except (OSError, zipfile.BadZipFile, ValueError):
        return None


def _npy_shape(archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], str | None] | None:
    """The shape and loaded kind in an `.npy` header (format versions 1-3): magic, version,
    length, then a dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (n, ...)}."""
    with archive.open(member) as stream:
        head = stream.read(10)
        if len(head) < 10 or not head.startswith(_NPY_MAGIC):
            return None
        wide = head[6] != 1  # versions 2 and 3 give the header length in 4 bytes
        size = (
            struct.unpack("<I", head[8:10] + stream.read(2))
            if wide
            else struct.unpack("<H", head[8:10])
        )
        text = stream.read(size[0])
    try:
        header = ast.literal_eval(text.decode("latin1"))  # a literal, never evaluated code
    except (ValueError, SyntaxError):
        return None
    shape = header.get("shape") if isinstance(header, dict) else None
    if not isinstance(shape, tuple) or not shape or not all(isinstance(d, int) for d in shape):
        return None
    return shape, _loaded_kind(header.get("descr"))


def _loaded_kind(descr: Any) -> str | None:
    """What netlang.data.tables.features makes of a dtype: uint8 pictures, floats and bools ->
    "f"; other integers -> "i"; None for anything else (structured, text)."""
    if not isinstance(descr, str) or len(descr) < 3:
        return None
    code = descr[1:]
    if code == "u1" or code[0] in "fb":
        return "f"
    return "i" if code[0] in "iu" else None


def _resolved(path: str, base_dir: Path) -> Path:
    """As the data layer resolves it: `~` expanded, relative to the `.net` file's folder."""
    written = Path(path).expanduser()
    return written if written.is_absolute() else base_dir / written
