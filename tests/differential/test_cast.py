"""`cast` between every pair of element types: the torch backend and onnxruntime give what numpy's
`astype` gives (the independent reference), bit for bit: floats to integers truncate toward zero,
integers wrap into a narrower type, anything is bool where it is not zero, floats out of float16's
range become infinities. Floats that are NaN or outside an integer type have no defined integer in
ONNX, so they are not fed to a cast to an integer."""

from __future__ import annotations

import itertools

import numpy as np
import onnxruntime as ort
import pytest
import torch

import netlang
from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.diagnostics import CompileError
from netlang.ir import DTYPES

FLOATS = [-100.9, -2.5, -1.7, -0.5, -0.0, 0.0, 0.3, 1.0, 1.5, 2.5, 7.99, 1000.5]
BEYOND = [np.nan, np.inf, -np.inf, 70000.0, -1e300]  # for floats and bool only
INTEGERS = [-(2**31) - 3, -70000, -3, -1, 0, 1, 2, 255, 256, 2049, 70000, 2**31 + 5]


def values(source: str, target: str) -> np.ndarray:
    """Inputs of type `source` whose `target` value numpy, torch and ONNX all define."""
    if source == "bool":
        given: list = [True, False, True, True, False, False]
    elif source.startswith("float"):
        given = FLOATS + (BEYOND if not target.startswith("int") else [])
    else:
        given = INTEGERS
    with np.errstate(over="ignore", invalid="ignore"):  # int64 -> int32 wraps, as in ONNX
        return np.asarray(given).astype(source).reshape(1, -1)


PAIRS = list(itertools.product(DTYPES, DTYPES))


def cast_model(source: str, target: str, size: int) -> netlang.ir.Graph:
    x = f"input x: {source}[N, {size}]"
    text = f'model M {{\n    {x}\n    y = x -> cast("{target}")\n    output y\n}}'
    return netlang.load(text).model()


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}-{t}" for s, t in PAIRS])
def test_cast_in_torch_and_onnxruntime_equals_numpy_astype(source: str, target: str) -> None:
    x = values(source, target)
    text = (
        f'model M {{\n    input x: {source}[N, {x.shape[1]}]\n    y = x -> cast("{target}")\n'
        "    output y\n}\n"
    )
    graph = netlang.load(text).model()
    assert graph.outputs[0].type.dtype == target
    with np.errstate(over="ignore", invalid="ignore"):
        expected = x.astype(target)
    with torch.no_grad():
        from_torch = to_torch(graph)(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(
        emit_onnx(graph).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (from_onnx,) = session.run(None, {"x": x})
    for got in (from_torch, from_onnx):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected, strict=True)


def test_cast_lets_token_ids_feed_a_float32_layer() -> None:
    graph = netlang.load(
        'model M {\n    input ids: int64[N, 4]\n    y = ids -> cast("float32") -> linear(3)\n'
        "    output y\n}\n"
    ).model()
    assert [n.op for n in graph.nodes] == ["cast", "linear"]
    assert graph.outputs[0].type.dtype == "float32"


@pytest.mark.parametrize(
    ("argument", "code", "hint"),
    [
        ('"flot16"', "NL2005", "did you mean `float16`?"),
        ("float16", "NL2001", 'write the element type as a string: "float16"'),
        ("", "NL2004", "write e.g. cast(dtype=...)"),
    ],
)
def test_an_unknown_element_type_is_located_at_the_argument_with_a_hint(
    argument: str, code: str, hint: str
) -> None:
    text = (
        f"model M {{\n    input x: float32[N, 4]\n    y = x -> cast({argument})\n    output y\n}}\n"
    )
    with pytest.raises(CompileError) as error:
        netlang.load(text).model()
    (diagnostic,) = error.value.diagnostics
    assert (diagnostic.code, diagnostic.hint) == (code, hint)
    line = text.splitlines()[2]
    underlined = line[diagnostic.span.start.column - 1 : diagnostic.span.end.column - 1]
    assert diagnostic.span.start.line == 3
    assert underlined == (argument or "cast()")


@pytest.mark.parametrize(("source", "target"), [("float32", "float16"), ("float16", "float32")])
def test_in_an_fp16_export_float32_is_the_float16_inside_and_the_interface_says_the_ir_type(
    source: str, target: str
) -> None:
    graph = cast_model(source, target, 3)
    session = ort.InferenceSession(
        emit_onnx(graph, fp16=True).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    x = np.asarray([[1.5, -2.25, 0.3]], source)
    (got,) = session.run(None, {"x": x})
    np.testing.assert_array_equal(got, x.astype(np.float16).astype(target), strict=True)
