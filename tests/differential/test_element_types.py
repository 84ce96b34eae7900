"""Every registered op that takes a tensor, fed inputs of each element type but float32 (and, with
several inputs, float32 beside int64): `check` refuses the program with one NL3009 located at the
call, or the torch backend (train and eval mode) and onnxruntime both run it and agree with the
IR on the output's element type. The programs are built from the registry's specs, so a new op is
covered without a line here."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

import netlang
from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.diagnostics.source import SourceFile
from netlang.ir import DTYPES, Dim
from netlang.ops import REGISTRY, Attr, OpSpec
from netlang.ops.registry import TAKES, AttrError, ShapeError, bind
from netlang.semantics.builder import GraphBuilder
from netlang.semantics.program import compile_source

# Input shapes tried, in order, until the op's shape rule accepts them (a leading 1 for
# expand_batch's tensor; [N, 4] after [N, 4, 4] for the keep masks of attention and masked_mean).
SHAPES: list[tuple[Dim, ...]] = [("N", 4), ("N", 4, 4), ("N", 4, 4, 4), (1, 4), (1, 4, 4)]
# Values for required attributes by kind, the first the shape rule accepts.
VALUES: dict[str, list[Any]] = {
    "int": [2, 1],
    "ints": [2],
    "float": [1.0],
    "bool": [False],
    "dims": [[-1]],
    "padding": [0],
}
OTHER = [d for d in DTYPES if d != "float32"]


def _given(spec: OpSpec, rank: int) -> list[dict[str, Any]]:
    """Candidate values for the attributes without a default (`int_list`: a permutation), then
    with a value for those whose default is None, too (clamp's bounds)."""
    required = _values(spec, rank, lambda a: a.required)
    return required + _values(spec, rank, lambda a: a.required or a.default is None)


def _values(spec: OpSpec, rank: int, given: Callable[[Attr], bool]) -> list[dict[str, Any]]:
    choices = []
    for attr in filter(given, spec.attrs):
        if attr.choices:
            values = [attr.choices[0]]
        elif attr.kind == "int_list":
            values = [list(range(rank))[::-1]]
        else:
            values = VALUES[attr.kind]
        choices.append([(attr.name, v) for v in values])
    return [dict(combo) for combo in itertools.product(*choices)]


@functools.cache
def configuration(spec: OpSpec) -> tuple[list[tuple[Dim, ...]], dict[str, Any]]:
    """Input shapes and required attributes with which the op builds, in the element type it
    takes (float32, or int64 token ids)."""
    dtype = "int64" if "int64" in TAKES[spec.takes] and spec.takes != "any" else "float32"
    for shapes in itertools.product(SHAPES, repeat=_count(spec)):
        for attrs in _given(spec, len(shapes[0])):
            builder = GraphBuilder("probe")
            names = [
                builder.input(f"x{i}", netlang.ir.TensorType(dtype, s))
                for i, s in enumerate(shapes)
            ]
            try:
                builder.apply(spec.name, names, attrs, "y")
            except (ShapeError, AttrError):
                continue
            return list(shapes), attrs
    raise AssertionError(f"no inputs in SHAPES fit `{spec.name}`: add one")


def _count(spec: OpSpec) -> int:
    """How many inputs the test gives: all an op takes (attention's mask too), or two."""
    return spec.arity[1] or max(spec.arity[0], 2)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(map(_literal, value)) + "]"
    return repr(value)


def program(spec: OpSpec, dtypes: list[str]) -> str:
    shapes, attrs = configuration(spec)
    inputs = "".join(
        f"    input x{i}: {dtype}[{', '.join(map(str, shape))}]\n"
        for i, (dtype, shape) in enumerate(zip(dtypes, shapes))
    )
    arguments = [f"x{i}" for i in range(len(shapes))]
    arguments += [f"{k}={_literal(v)}" for k, v in attrs.items()]
    outputs = ", ".join(f"y{i}" for i in range(_outputs(spec, shapes, attrs)))
    call = f"{spec.name}({', '.join(arguments)})"
    return f"model M {{\n{inputs}    {outputs} = {call}\n    output {outputs}\n}}\n"


def _outputs(spec: OpSpec, shapes: list[tuple[Dim, ...]], attrs: dict[str, Any]) -> int:
    types = tuple(netlang.ir.TensorType("float32", s) for s in shapes)
    return len(spec.infer(types, bind(spec, [], attrs)))


def sample(value: netlang.ir.Value, rng: np.random.Generator) -> np.ndarray:
    shape = [d if isinstance(d, int) else 2 for d in value.type.shape]
    if value.type.dtype.startswith("float"):
        return rng.standard_normal(shape).astype(value.type.dtype)
    return rng.integers(0, 2, shape).astype(value.type.dtype)  # ids below every `num` here


def refused_at_the_call_or_run_by_both_backends(text: str) -> None:
    program_, diagnostics, _ = compile_source(SourceFile("types.net", text))
    if program_ is not None:
        diagnostics = [*diagnostics, *program_.check()]
    errors = [d for d in diagnostics if d.severity.name == "ERROR"]
    if errors:
        line = 2 + text.count("    input ")  # the op's call
        assert [(d.code, d.span.start.line) for d in errors] == [("NL3009", line)], text
        (error,) = errors
        call = text.splitlines()[line - 1].split(" = ")[1]
        underlined = text.splitlines()[line - 1][
            error.span.start.column - 1 : error.span.end.column - 1
        ]
        assert underlined == call or re.fullmatch(r"x\d", underlined), (underlined, text)
        assert error.hint, text
        return
    graph = netlang.load(text).model()
    feeds = {v.name: sample(v, np.random.default_rng(0)) for v in graph.inputs}
    module = to_torch(graph)
    for mode in (module.train, module.eval):
        mode()
        with torch.no_grad():
            out = module(*(torch.from_numpy(a) for a in feeds.values()))
        outs = [out] if isinstance(out, torch.Tensor) else list(out)
        assert [str(t.dtype).removeprefix("torch.") for t in outs] == [
            v.type.dtype for v in graph.outputs
        ], text
    weights = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    session = ort.InferenceSession(
        emit_onnx(graph, weights).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    got = session.run(None, feeds)
    assert [str(a.dtype) for a in got] == [v.type.dtype for v in graph.outputs], text


TENSOR_OPS = sorted(name for name, spec in REGISTRY.items() if spec.arity != (0, 0))


@pytest.mark.parametrize("dtype", OTHER)
@pytest.mark.parametrize("op", TENSOR_OPS)
def test_an_op_refuses_an_element_type_at_check_or_both_backends_run_it(
    op: str, dtype: str
) -> None:
    spec = REGISTRY[op]
    refused_at_the_call_or_run_by_both_backends(program(spec, [dtype] * _count(spec)))


@pytest.mark.parametrize("op", [name for name in TENSOR_OPS if _count(REGISTRY[name]) > 1])
def test_an_op_of_several_inputs_refuses_mixed_element_types_or_runs_them(op: str) -> None:
    spec = REGISTRY[op]
    mixed = ["float32"] + ["int64"] * (_count(spec) - 1)
    refused_at_the_call_or_run_by_both_backends(program(spec, mixed))


def test_the_language_reference_names_every_op_that_takes_more_than_float32() -> None:
    text = (Path(__file__).parents[2] / "docs" / "language.md").read_text()
    paragraph = text[text.index("Element types are") :].split("\n\n")[0]
    named = set(re.findall(r"`(\w+)`", paragraph))
    assert {n for n, spec in REGISTRY.items() if spec.takes != "float32"} <= named
