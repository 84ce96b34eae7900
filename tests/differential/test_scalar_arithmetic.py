"""Arithmetic of a tensor with a number (`x * 0.5`, `x + 3`, `x / 6`, `1 - x`), written in
netlang, against torch's own results: MobileNet V3's hardswish and hardsigmoid by hand equal
torch.nn.functional's, through the torch backend and through onnxruntime."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

import netlang
from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.diagnostics import CompileError

BY_HAND = """model ByHand {
    input x: float32[N, 4, 6]
    swish = x * ((x + 3) -> relu6) / 6
    gate = ((x + 3) -> relu6) * (1 / 6)
    rest = 1 - x * 0.5 + 2 / x - 4
    output swish, gate, rest
}"""


def test_hardswish_and_hardsigmoid_by_hand_equal_torch_in_both_backends() -> None:
    graph = netlang.load(BY_HAND).model()
    assert {n.op for n in graph.nodes} == {"scalar", "relu6", "mul", "add"}
    x = torch.randn(3, 4, 6) * 4
    expected = [F.hardswish(x), F.hardsigmoid(x), 1 - x * 0.5 + 2 / x - 4]
    with torch.no_grad():
        got = to_torch(graph)(x)
    session = ort.InferenceSession(
        emit_onnx(graph).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    from_onnx = session.run(None, {"x": x.numpy()})
    for ours, onnx_out, reference in zip(got, from_onnx, expected):
        torch.testing.assert_close(ours, reference)
        np.testing.assert_allclose(onnx_out, reference.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("x * true", "`true`"),
        ("x * [1, 2]", "a list"),
        ("x % 2", "a value for `%`"),
        ("x - x", "`-` of two tensors is not defined"),
    ],
)
def test_tensor_with_what_is_not_a_number_is_a_located_error(expression: str, message: str) -> None:
    source = f"model A {{ input x: float32[N, 4]\n    y = {expression}\n    output y }}"
    with pytest.raises(CompileError) as error:
        netlang.load(source).model()
    (diagnostic,) = error.value.diagnostics
    assert message in diagnostic.message
    assert diagnostic.span.start.line == 2


def test_arithmetic_on_token_ids_is_refused_with_its_location() -> None:
    source = "model A { input t: int64[N, 4]\n    y = t * 2\n    output y }"
    with pytest.raises(CompileError, match="computes in float32, but its input is int64"):
        netlang.load(source).model()
