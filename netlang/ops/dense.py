"""Dense layers: linear and embedding."""

from __future__ import annotations

import math

from netlang.ir import TensorType
from netlang.ops.registry import (
    INIT,
    Attr,
    Attrs,
    Ins,
    OpSpec,
    need_rank,
    register,
    static,
    weight_and_bias,
)


def _linear_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    x = ins[0]
    # [N, C, H, W] straight from a convolution is the classic mistake, and its last two axes are
    # a (square) feature map; a channels-last [N, H, W, C] (ConvNeXt, Swin) is a linear's to
    # take, even where C happens to equal the sides (Swin-T at 384: [N, 96, 96, 96]).
    image = x.rank > 3 and x.shape[-1] == x.shape[-2] and x.shape[1] != x.shape[2]
    hint = "insert `flatten` before it" if x.rank > 3 else None
    layout = "[N, features] (or [N, T, features])"
    need_rank("linear", x, (2, 3) if image else (2, 3, 4, 5), layout, hint)
    static("linear", x, -1, "input features")
    return (x.with_shape((*x.shape[:-1], a["features"])),)


def _linear_params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
    features_in = ins[0].shape[-1]
    assert isinstance(features_in, int)
    weight = (a["features"], features_in)
    return weight_and_bias(weight, a, a["features"])


def _linear_macs(ins: Ins, outs: tuple[TensorType, ...], a: Attrs) -> int:
    rows = math.prod(d for d in ins[0].shape[1:-1] if isinstance(d, int))
    return rows * math.prod(_linear_params(ins, a)["weight"])


linear = register(
    OpSpec(
        "linear",
        "Fully connected layer on the last axis ([N, ..., features], up to rank 5; a square "
        "[N, C, H, W] is refused: flatten it first); input features are inferred.",
        (Attr("features", "int"), Attr("bias", "bool", True), INIT),
        _linear_infer,
        _linear_params,
        macs=_linear_macs,
        tags=frozenset({"init"}),
    )
)


def _embedding_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    return (TensorType("float32", (*ins[0].shape, a["dim"])),)


embedding = register(
    OpSpec(
        "embedding",
        "Lookup table from token ids [N, ...] (int64) to vectors [N, ..., dim].",
        (Attr("num", "int"), Attr("dim", "int"), Attr("padding_idx", "int", None), INIT),
        _embedding_infer,
        lambda ins, a: {"weight": (a["num"], a["dim"])},
        tags=frozenset({"init"}),
        takes="ids",
    )
)
