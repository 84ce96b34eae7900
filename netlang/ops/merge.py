"""Fan-in and fan-out: add, mul, concat, split; and arithmetic of a tensor with a number
(`x * 0.5`, `x + 3`, `x / 6`), which the infix operators build."""

from __future__ import annotations

import math

from netlang.ir import TensorType, format_shape
from netlang.ops.registry import (
    Attr,
    Attrs,
    Ins,
    FLOAT32_MAX,
    OpSpec,
    ShapeError,
    broadcast,
    register,
)

add = register(
    OpSpec(
        "add",
        "Element-wise sum with numpy broadcasting (residual connections, position embeddings).",
        (),
        lambda ins, a: (broadcast("add", ins),),
        arity=(2, None),
        takes="numbers",
    )
)
mul = register(
    OpSpec(
        "mul",
        "Element-wise product with numpy broadcasting (gating: squeeze-and-excitation).",
        (),
        lambda ins, a: (broadcast("mul", ins),),
        arity=(2, None),
        takes="numbers",
    )
)


def _number(value: float) -> str:
    """A number as a message says it; ints past a float's range and past str()'s 4300 digits."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if abs(value) < 1e300:
        return f"{value:.6g}"
    return f"about 10^{int(math.log10(abs(value)))}"


def _scalar_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    value = a["value"]  # an int may be too large for a Python float
    if not abs(value) <= FLOAT32_MAX:
        raise ShapeError(
            f"the number {_number(value)} is beyond float32 (at most {FLOAT32_MAX:.6g} in size), "
            "the type the backends compute in",
            code="NL2022",
        )
    if a["op"] == "div" and value == 0 and not a["reverse"]:
        raise ShapeError("division of a tensor by zero", code="NL2022")
    return (ins[0],)


scalar = register(
    OpSpec(
        "scalar",
        "Element-wise arithmetic with a number: `op` of x and `value`, the number on the left "
        "when `reverse` (`x * 0.5`, `x + 3`, `x / 6`, `1 - x` write it).",
        (
            Attr("op", "str", choices=("add", "sub", "mul", "div")),
            Attr("value", "float"),
            Attr("reverse", "bool", False),
        ),
        _scalar_infer,
    )
)
SCALAR_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


def _concat_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    rank = ins[0].rank
    if any(t.rank != rank for t in ins) or not -rank <= a["axis"] < rank:
        raise ShapeError(
            "concat needs inputs of one rank and an axis inside it, got "
            + ", ".join(format_shape(t.shape) for t in ins),
            code="NL3005",
        )
    axis = a["axis"] % rank
    for i in range(rank):
        if i != axis and len({t.shape[i] for t in ins}) > 1:
            raise ShapeError(
                f"concat along axis {axis} needs equal sizes on axis {i}, got "
                + ", ".join(format_shape(t.shape) for t in ins),
                _odd_size_hint([t.shape[i] for t in ins]) if i >= 2 else None,
                code="NL3005",
            )
    sizes = [t.shape[axis] for t in ins]
    total = sum(sizes) if all(isinstance(s, int) for s in sizes) else "+".join(map(str, sizes))
    shape = list(ins[0].shape)
    shape[axis] = total  # type: ignore[assignment]
    return (ins[0].with_shape(tuple(shape)),)


def _odd_size_hint(sizes: list[object]) -> str | None:
    """A skip connection one pixel off: an odd size pooled (15 -> 7) and upsampled (-> 14)."""
    known = [s for s in sizes if isinstance(s, int)]
    if len(known) != len(sizes) or max(known) - min(known) != 1:
        return None
    return (
        f"{max(known)} halved and doubled again is {min(known)}: give the input a size that "
        "every pooling step divides evenly (a U-Net of k poolings: a multiple of 2**k)"
    )


concat = register(
    OpSpec(
        "concat",
        "Join tensors along `axis` (channels by default: Inception).",
        (Attr("axis", "int", 1),),
        _concat_infer,
        arity=(2, None),
        takes="any",
    )
)


def split_sizes(t: TensorType, a: Attrs) -> list[int]:
    """The part sizes a split produces (shared with the backends)."""
    axis = a["axis"] % t.rank
    size = t.shape[axis]
    if not isinstance(size, int):
        raise ShapeError(f"split needs a fixed size on axis {axis}, got `{size}`", code="NL3003")
    parts = a["parts"]
    if isinstance(parts, int):
        if parts < 1 or size % parts:
            raise ShapeError(f"cannot split size {size} into {parts} equal parts", code="NL3005")
        return [size // parts] * parts
    if sum(parts) != size or min(parts) < 1:
        raise ShapeError(f"split sizes {list(parts)} do not add up to {size}", code="NL3005")
    return list(parts)


def _split_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    t = ins[0]
    if not -t.rank <= a["axis"] < t.rank:
        raise ShapeError(
            f"split axis {a['axis']} is out of range for {format_shape(t.shape)}", code="NL3003"
        )
    axis = a["axis"] % t.rank
    return tuple(
        t.with_shape(t.shape[:axis] + (s,) + t.shape[axis + 1 :]) for s in split_sizes(t, a)
    )


split = register(
    OpSpec(
        "split",
        "Cut a tensor along `axis` into `parts` equal parts or given sizes.",
        (Attr("parts", "ints"), Attr("axis", "int", 1)),
        _split_infer,
        takes="any",
    )
)
