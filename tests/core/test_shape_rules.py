"""Shape rules against hand-computed sizes (torch's documented formulas)."""

from __future__ import annotations

import pytest

from netlang.semantics.builder import GraphBuilder
from netlang.ir import TensorType
from netlang.ops import REGISTRY, ShapeError


def out_shape(op: str, shape: tuple, **attrs: object) -> tuple:
    b = GraphBuilder("t")
    x = b.input("x", TensorType("float32", shape))
    (y,) = b.apply(op, [x], attrs, "node")
    return b.types[y].shape


@pytest.mark.parametrize(
    "attrs, expected",
    [
        ({"channels": 8, "kernel": 3}, (2, 8, 30, 30)),  # (32 - 3) / 1 + 1
        ({"channels": 8, "kernel": 3, "stride": 2, "padding": 1}, (2, 8, 16, 16)),
        ({"channels": 8, "kernel": 3, "dilation": 2}, (2, 8, 28, 28)),  # span 5
        ({"channels": 8, "kernel": [3, 5], "padding": "same"}, (2, 8, 32, 32)),
        ({"channels": 8, "kernel": 7, "stride": 2, "padding": 3}, (2, 8, 16, 16)),
    ],
)
def test_conv2d_output_size_follows_the_floor_formula(attrs: dict, expected: tuple) -> None:
    assert out_shape("conv2d", (2, 3, 32, 32), **attrs) == expected


@pytest.mark.parametrize("size, ceil_mode, expected", [(7, False, 3), (7, True, 4), (6, True, 3)])
def test_maxpool_ceil_mode_rounds_up_but_keeps_the_last_window_inside(
    size: int, ceil_mode: bool, expected: int
) -> None:
    # kernel 3 stride 2: floor((7-3)/2)+1 = 3; ceil -> 3 (exact); size 6: ceil((6-3)/2)+1 = 3
    got = out_shape(
        "maxpool2d", (1, 1, size, size), kernel=2 if size == 7 else 3, stride=2, ceil_mode=ceil_mode
    )
    if size == 7:  # kernel 2 stride 2: floor(5/2)+1 = 3, ceil(5/2)+1 = 4
        assert got[2] == expected
    else:
        assert got[2] == expected


def test_transposed_conv_inverts_a_strided_conv() -> None:
    assert out_shape(
        "conv_transpose2d",
        (1, 16, 7, 7),
        channels=8,
        kernel=3,
        stride=2,
        padding=1,
        output_padding=1,
    ) == (1, 8, 14, 14)


def test_googlenet_style_ceil_pool_sizes() -> None:
    # torchvision GoogLeNet: 112 -> maxpool(3, 2, ceil) -> 56 -> ... -> 28 -> 14 -> 7
    sizes = [112]
    for _ in range(4):
        sizes.append(
            out_shape(
                "maxpool2d", (1, 1, sizes[-1], sizes[-1]), kernel=3, stride=2, ceil_mode=True
            )[2]
        )
    assert sizes == [112, 56, 28, 14, 7]


def test_lstm_parameter_shapes_match_torch_naming() -> None:
    spec = REGISTRY["lstm"]
    x = TensorType("float32", ("N", "T", 10))
    attrs = {
        "hidden": 20,
        "layers": 2,
        "bidirectional": True,
        "batch_first": True,
        "dropout": 0.0,
        "bias": True,
        "init": "default",
    }
    params = spec.params((x,), attrs)
    assert params["weight_ih_l0"] == (80, 10)
    assert params["weight_ih_l1_reverse"] == (80, 40)
    assert len(params) == 16


def test_kernel_larger_than_input_is_a_shape_error_with_its_code() -> None:
    with pytest.raises(ShapeError) as info:
        out_shape("conv2d", (1, 1, 4, 4), channels=2, kernel=5)
    assert info.value.code == "NL3004"
