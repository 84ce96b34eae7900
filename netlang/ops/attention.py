"""Attention and the products it is made of: matmul, multi-head self-attention, and the masks
and pooling that keep padded text out of it (padding_mask, masked_mean)."""

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
        takes="numbers",
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


def _need_mask(op: str, x: TensorType, mask: TensorType) -> None:
    """A keep mask is [N, T]: one value per sequence position of x [N, T, ...]."""
    if mask.shape != x.shape[:2]:
        raise ShapeError(
            f"{op} mask {format_shape(mask.shape)} does not fit the sequence "
            f"{format_shape(x.shape)}: it must be {format_shape(x.shape[:2])}",
            "make the mask with padding_mask(tokens), from the token ids of this sequence",
            "NL3001",
        )


def _attention_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    _embed(ins, a)
    if len(ins) == 2:
        _need_mask("attention", ins[0], ins[1])
    return (ins[0],)


attention = register(
    OpSpec(
        "attention",
        "Multi-head self-attention on [N, T, features] (torch.nn.MultiheadAttention, "
        "batch_first, its parameter names); `causal` masks later positions, and an optional "
        "second input, a keep mask [N, T] (padding_mask), masks padded keys.",
        (
            Attr("heads", "int"),
            Attr("causal", "bool", False),
            Attr("dropout", "float", 0.0),
            Attr("bias", "bool", True),
        ),
        _attention_infer,
        _attention_params,
        macs=_attention_macs,
        arity=(1, 2),
    )
)


def _padding_mask_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    return (TensorType("float32", ins[0].shape),)


padding_mask = register(
    OpSpec(
        "padding_mask",
        "Keep mask of token ids: 1.0 where the token is not `pad`, 0.0 where it is (the input "
        "of attention's key masking and of masked_mean).",
        (Attr("pad", "int", 0),),
        _padding_mask_infer,
        takes="ids",
    )
)


def _masked_mean_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    x, mask = ins
    need_rank("masked_mean", x, (2, 3, 4, 5), "[N, T, ...]")
    _need_mask("masked_mean", x, mask)
    return (x.with_shape((x.shape[0], *x.shape[2:])),)


masked_mean = register(
    OpSpec(
        "masked_mean",
        "Mean over the kept positions (axis 1) of [N, T, ...] given a keep mask [N, T] of 1s and "
        "0s (padding_mask): [N, T, ...] -> [N, ...]; a row with nothing kept gives 0.",
        (),
        _masked_mean_infer,
        arity=(2, 2),
    )
)
