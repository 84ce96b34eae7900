"""`reshape` with the input's symbolic sizes (ShuffleNet's channel shuffle at any H and W): the
shape rule keeps the symbols, and the torch module and the ONNX model read them when they run,
matching torch's own reshape/permute at two input sizes."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

import netlang
from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.diagnostics import CompileError

SHUFFLE = """
model Shuffle(g: int = 2) {
    input x: float32[N, 6, H, W]
    c = channels(x)
    y = x -> reshape([g, c // g, dim(x, 2), dim(x, 3)])
          -> permute([0, 2, 1, 3, 4])
          -> reshape([c, -1, dim(x, 3)])
    z = y -> reshape([c, -1])
    z = z -> reshape([dim(z, 2), c])
    output z
}
"""


def test_symbolic_sizes_survive_and_minus_one_takes_the_rest() -> None:
    graph = netlang.load(SHUFFLE).model("Shuffle")
    assert [n.output_types[0].shape for n in graph.nodes] == [
        ("N", 2, 3, "H", "W"),
        ("N", 3, 2, "H", "W"),
        ("N", 6, "H", "W"),
        ("N", 6, "H*W"),
        ("N", "H*W", 6),
    ]


@pytest.mark.parametrize("size", [(3, 5), (8, 2)])
def test_channel_shuffle_runs_at_any_size_in_torch_and_onnxruntime(size: tuple[int, int]) -> None:
    graph = netlang.load(SHUFFLE).model("Shuffle")
    x = torch.randn(2, 6, *size)
    want = x.reshape(2, 2, 3, *size).permute(0, 2, 1, 3, 4).reshape(2, 6, -1).reshape(2, -1, 6)
    assert torch.equal(to_torch(graph)(x), want)
    session = ort.InferenceSession(
        emit_onnx(graph, {}).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (got,) = session.run(None, {"x": x.numpy()})
    assert np.array_equal(got, want.numpy())


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("[4, -1]", "cannot reshape"),  # 6 * H * W values do not split into 4 rows
        ("[6, dim(x, 2), -1]", "is not one of the input's sizes"),  # H*W cannot be split
        ("[dim(y, 2), 5]", "cannot reshape"),  # a 6 is not a 5
    ],
)
def test_an_unknowable_or_wrong_product_is_a_located_error(target: str, message: str) -> None:
    source = f"""
    model M {{
        input x: float32[N, 6, H, W]
        y = x -> flatten(2)
        z = y -> reshape({target})
        output z
    }}
    """
    with pytest.raises(CompileError) as error:
        netlang.load(source).model("M")
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("target", "item", "message"),
    [
        ('[dim(x, 1), "foo"]', '"foo"', "reshape size `foo` (item 1) is not one of the input's"),
        ("[dim(x, 1), 2.5]", "2.5", "got a list whose item 1 is `2.5`"),
        ('["H", true, -1]', "true", "got a list whose item 1 is `true`"),
        ("shape=[6, [2], -1]", "[2]", "got a list whose item 1 is a list"),
    ],
)
def test_a_wrong_item_of_the_target_is_named_and_pointed_at(
    target: str, item: str, message: str
) -> None:
    line = f"    y = reshape(x, {target})"
    source = f"model M {{\n    input x: float32[N, 6, H, W]\n{line}\n    output y\n}}\n"
    with pytest.raises(CompileError) as error:
        netlang.load(source).model("M")
    (diagnostic,) = error.value.diagnostics
    assert message in diagnostic.message
    assert diagnostic.span.start.line == 3
    assert diagnostic.span.start.column == line.index(item) + 1
    assert diagnostic.span.end.column == line.index(item) + len(item) + 1
