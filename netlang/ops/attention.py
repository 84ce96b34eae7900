"""Attention and the products it is made of: matmul, multi-head self-attention."""

from __future__ import annotations

from netlang.ir import Dim, TensorType, format_shape
from netlang.ops.registry import (
    Attr,
    Attrs,
    Ins,
    OpSpec,
    ShapeError,
    broadcast,
    need_rank,
    register,
    static,
)


def _matmul_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    left, right = ins
    if left.rank < 2 or right.rank < 2:
        raise ShapeError(
            f"matmul needs two inputs of rank 2 or more, got {format_shape(left.shape)} and "
            f"{format_shape(right.shape)}",
            code="NL3003",
        )
    if left.shape[-1] != right.shape[-2]:
        raise ShapeError(
            f"matmul of {format_shape(left.shape)} and {format_shape(right.shape)}: the inner "
            f"sizes {left.shape[-1]} and {right.shape[-2]} differ",
            "the last axis of the left input must equal the second last of the right",
            "NL3001",
        )
    batch = broadcast(
        "matmul", (left.with_shape(left.shape[:-2]), right.with_shape(right.shape[:-2]))
    )
    return (left.with_shape((*batch.shape, left.shape[-2], right.shape[-1])),)


def _matmul_macs(ins: Ins, outs: tuple[TensorType, ...], a: Attrs) -> int:
    total = ins[0].shape[-1] if isinstance(ins[0].shape[-1], int) else 1
    for d in outs[0].shape[1:]:
        total *= d if isinstance(d, int) else 1
    return total


matmul = register(
    OpSpec(
        "matmul",
        "Matrix product over the last two axes, broadcasting the ones before (torch.matmul).",
        (),
        _matmul_infer,
        macs=_matmul_macs,
        arity=(2, 2),
    )
)


def _embed(ins: Ins, a: Attrs) -> int:
    x = ins[0]
    need_rank("attention", x, (3,), "[N, T, features]")
    e = static("attention", x, 2, "features")
    if a["heads"] < 1 or e % a["heads"]:
        raise ShapeError(
            f"attention features ({e}) must split evenly into {a['heads']} heads", code="NL2005"
        )
    if not 0 <= a["dropout"] < 1:
        raise ShapeError(f"attention dropout must be in [0, 1), got {a['dropout']}", code="NL2005")
    return e


def _attention_params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
    e = _embed(ins, a)
    bias = {"in_proj_bias": (3 * e,)} if a["bias"] else {}
    out_bias = {"out_proj.bias": (e,)} if a["bias"] else {}
    return {"in_proj_weight": (3 * e, e), **bias, "out_proj.weight": (e, e), **out_bias}


def _attention_macs(ins: Ins, outs: tuple[TensorType, ...], a: Attrs) -> int:
    e = _embed(ins, a)
    t: Dim = ins[0].shape[1]
    steps = t if isinstance(t, int) else 1
    return steps * 4 * e * e + 2 * steps * steps * e


def _attention_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    _embed(ins, a)
    return (ins[0],)


attention = register(
    OpSpec(
        "attention",
        "Multi-head self-attention on [N, T, features] (torch.nn.MultiheadAttention, "
        "batch_first, its parameter names); `causal` masks later positions.",
        (
            Attr("heads", "int"),
            Attr("causal", "bool", False),
            Attr("dropout", "float", 0.0),
            Attr("bias", "bool", True),
        ),
        _attention_infer,
        _attention_params,
        macs=_attention_macs,
    )
)
