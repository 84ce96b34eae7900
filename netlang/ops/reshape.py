"""Layout ops: flatten, reshape, permute, select, upsample."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from netlang.ir import Dim, TensorType, format_shape
from netlang.ops.registry import Attr, Attrs, Ins, OpSpec, ShapeError, need_rank, register


def _axis(axis: int, rank: int, op: str) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{op} axis {axis} is out of range for a {rank}-D input", code="NL3003")
    return axis % rank


def _product(dims: tuple[Dim, ...]) -> Dim:
    if all(isinstance(d, int) for d in dims):
        return math.prod(int(d) for d in dims)
    return "*".join(str(d) for d in dims)


def _flatten_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    shape = ins[0].shape
    start, end = _axis(a["start"], len(shape), "flatten"), _axis(a["end"], len(shape), "flatten")
    if start > end:
        raise ShapeError(f"flatten start {a['start']} comes after end {a['end']}", code="NL2005")
    out = (*shape[:start], _product(shape[start : end + 1]), *shape[end + 1 :])
    if sum(not isinstance(d, int) for d in out[start:]) > 1:  # ONNX Reshape infers one size
        raise ShapeError(
            f"flatten of [{', '.join(map(str, shape))}] leaves more than one symbolic size "
            "from its start on, and ONNX's Reshape can infer only one",
            "fix all but one of the sizes from `start` on, or flatten to the end (end=-1)",
            code="NL4001",
        )
    return (ins[0].with_shape(out),)


flatten = register(
    OpSpec(
        "flatten",
        "Merge axes start..end into one ([N, C, H, W] -> [N, C*H*W]).",
        (Attr("start", "int", 1), Attr("end", "int", -1)),
        _flatten_infer,
        takes="any",
    )
)


def _factors(dims: Sequence[Dim]) -> tuple[int, Counter[str]]:
    """A product of sizes as (integer part, symbols with their powers); "H*W" counts H and W."""
    number, symbols = 1, Counter[str]()
    for d in dims:
        for part in str(d).split("*") if isinstance(d, str) else [d]:
            if isinstance(part, int) or part.isdigit():
                number *= int(part)
            else:
                symbols[part] += 1
    return number, symbols


def _reshape_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    """Any sizes, symbolic ones of the input included, wherever the product per sample is known:
    [N, C, H, W] -> [N, g, C // g, H, W] at every H and W; one -1 takes what is left."""
    x, target = ins[0], list(a["shape"])
    if target.count(-1) > 1 or any(isinstance(d, int) and (d < -1 or d == 0) for d in target):
        raise ShapeError(
            f"reshape target {target} may hold one -1 and otherwise positive sizes", code="NL2005"
        )
    axes = {d for d in x.shape if isinstance(d, str)}
    for index, d in enumerate(target):
        if isinstance(d, str) and d not in axes:
            raise ShapeError(
                f"reshape size `{d}` (item {index}) is not one of the input's sizes "
                f"{format_shape(x.shape)}",
                "a symbolic size must be a whole axis of the input, so that it is known when "
                "the model runs",
                "NL3001",
                item=("shape", index),
            )
    have_number, have = _factors(x.shape[1:])
    want_number, want = _factors([d for d in target if d != -1])
    shown = f"[N, {', '.join(map(str, target))}]"
    left = have - want
    if want - have or have_number % want_number:
        raise ShapeError(f"cannot reshape {format_shape(x.shape)} to {shown}", code="NL3001")
    number = have_number // want_number
    if -1 in target:
        rest = [str(number)] * (number != 1 or not left) + sorted(left.elements())
        target[target.index(-1)] = number if not left else "*".join(rest)
    elif number != 1 or left:
        raise ShapeError(
            f"cannot reshape {format_shape(x.shape)} ({_product(x.shape[1:])} values per sample)"
            f" to {shown} ({_product(tuple(target))})",
            code="NL3001",
        )
    return (x.with_shape((x.shape[0], *target)),)


def reshape_plan(shape: tuple[Dim, ...], out: tuple[Dim, ...]) -> tuple[tuple[str, int], ...]:
    """How the backends build a reshape's target when it runs: each output size as ("size", n),
    ("axis", k) (the input's size there: the batch, a symbolic size) or ("rest", -1)."""
    axes = {d: k for k, d in enumerate(shape) if isinstance(d, str)}
    plan = [("axis", 0)]
    for d in out[1:]:
        if isinstance(d, int):
            plan.append(("size", d))
        else:
            plan.append(("axis", axes[d]) if d in axes else ("rest", -1))
    return tuple(plan)


reshape = register(
    OpSpec(
        "reshape",
        "New shape for each sample; the batch axis is kept, one -1 is inferred. Sizes may be "
        "the input's symbolic ones (`dim(x, 2)`) wherever the product per sample is known.",
        (Attr("shape", "dims"),),
        _reshape_infer,
        takes="any",
    )
)


def _permute_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    dims = list(a["dims"])
    if sorted(dims) != list(range(ins[0].rank)):
        raise ShapeError(
            f"permute needs a permutation of 0..{ins[0].rank - 1}, got {dims}", code="NL2005"
        )
    return (ins[0].with_shape(tuple(ins[0].shape[d] for d in dims)),)


permute = register(
    OpSpec(
        "permute",
        "Reorder axes (all of them, batch included).",
        (Attr("dims", "int_list"),),
        _permute_infer,
        takes="any",
    )
)


def _select_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    shape = ins[0].shape
    axis = _axis(a["axis"], len(shape), "select")
    if axis == 0:
        raise ShapeError("select cannot take from the batch axis", code="NL2005")
    size = shape[axis]
    if isinstance(size, int) and not -size <= a["index"] < size:
        raise ShapeError(
            f"select index {a['index']} is out of range for size {size}", code="NL3003"
        )
    return (ins[0].with_shape(shape[:axis] + shape[axis + 1 :]),)


select = register(
    OpSpec(
        "select",
        "Take one index along an axis, dropping it "
        "(e.g. the last time step: select(axis=1, index=-1)).",
        (Attr("axis", "int"), Attr("index", "int")),
        _select_infer,
        takes="any",
    )
)


def _upsample_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    need_rank("upsample", ins[0], (4,), "[N, C, H, W]")
    scale = a["scale"]
    if scale < 1:
        raise ShapeError(f"upsample scale must be a positive integer, got {scale}", code="NL2005")
    n, c, h, w = ins[0].shape
    grow = [d * scale if isinstance(d, int) else f"{d}*{scale}" for d in (h, w)]
    return (ins[0].with_shape((n, c, *grow)),)


upsample = register(
    OpSpec(
        "upsample",
        "Enlarge H and W by an integer factor (nearest or bilinear).",
        (Attr("scale", "int", 2), Attr("mode", "str", "nearest", ("nearest", "bilinear"))),
        _upsample_infer,
    )
)
