"""The op registry: each op's attribute schema, shape rule, parameters and cost, defined once.

Backends keep their lowerings in tables keyed by the same op names; a test checks they are complete.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netlang.ir import DTYPES, Dim, TensorType, format_shape

REQUIRED: Any = object()  # marks an attribute without a default


class ShapeError(Exception):
    """A shape rule's verdict that an input does not fit; becomes a diagnostic at the call site,
    at one item of a list argument when `item` names it (attribute, index), or at the tensor
    argument that is the op's input number `input` (0-based) where one was written."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        code: str = "NL3001",
        item: tuple[str, int] | None = None,
        input: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.hint, self.code, self.item = message, hint, code, item
        self.input = input


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute. `kind` is a type name from `CHECKS`; `choices` limits string values."""

    name: str
    kind: str
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


Ins = tuple[TensorType, ...]
Attrs = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OpSpec:
    """Everything the compiler knows about one op.

    `infer` maps input types and attributes to output types (raising ShapeError); `params` and
    `buffers` give the `state_dict` entries (local name -> shape), in torch's order; `macs` counts
    multiply-accumulates per sample. `takes` names the element types its tensor inputs may have
    (a key of `TAKES`); the builder checks it before `infer` runs.
    """

    name: str
    doc: str
    attrs: tuple[Attr, ...]
    infer: Callable[[Ins, Attrs], tuple[TensorType, ...]]
    params: Callable[[Ins, Attrs], dict[str, tuple[int, ...]]] = lambda ins, a: {}
    buffers: Callable[[Ins, Attrs], dict[str, tuple[int, ...]]] = lambda ins, a: {}
    macs: Callable[[Ins, tuple[TensorType, ...], Attrs], int] = lambda ins, outs, a: 0
    arity: tuple[int, int | None] = (1, 1)  # min and max tensor inputs (None: unbounded)
    tags: frozenset[str] = field(default_factory=frozenset)  # e.g. "init": takes weight init
    takes: str = "float32"

    def attr(self, name: str) -> Attr | None:
        return next((a for a in self.attrs if a.name == name), None)


REGISTRY: dict[str, OpSpec] = {}

# What `OpSpec.takes` may say, and the element types each admits. "float32" (the default) is what
# both backends compute in: their weights and constants are float32, and onnxruntime has no
# integer kernels for most ops. "ids" are integer token ids (embedding, padding_mask). "numbers"
# is any type but bool, for ops whose kernels take every number type in both backends (add, mul,
# matmul; expand_batch's Where); "any" is for ops that move values without arithmetic on them
# (layout ops). An op not of "float32" takes several inputs of one element type only, as ONNX's
# Add, MatMul and Concat want. tests/differential/test_element_types.py runs every op on every
# element type in both backends: what a choice admits, both must run.
TAKES: dict[str, tuple[str, ...]] = {
    "float32": ("float32",),
    "ids": ("int64", "int32"),
    "numbers": tuple(d for d in DTYPES if d != "bool"),
    "any": DTYPES,
}


def register(spec: OpSpec) -> OpSpec:
    if spec.takes not in TAKES:
        raise ValueError(f"op `{spec.name}` takes unknown element types `{spec.takes}`")
    if spec.name in REGISTRY:
        raise ValueError(f"op `{spec.name}` registered twice")
    REGISTRY[spec.name] = spec
    return spec


# Attribute kinds: each a predicate on the compile-time value, and how to say what it wants.
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_dim(v: Any) -> bool:
    return _is_int(v) or (isinstance(v, str) and v != "")


def _is_ints(v: Any) -> bool:
    return _is_int(v) or (isinstance(v, (list, tuple)) and len(v) > 0 and all(map(_is_int, v)))


CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_is_int, "an integer"),
    "float": (lambda v: _is_int(v) or isinstance(v, float), "a number"),
    "bool": (lambda v: isinstance(v, bool), "`true` or `false`"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "ints": (_is_ints, "an integer or a list of integers"),
    "int_list": (
        lambda v: isinstance(v, (list, tuple)) and all(map(_is_int, v)),
        "a list of integers",
    ),
    "dims": (  # a target shape: sizes, -1, and symbolic sizes of the input (`dim(x, 2)` = "H")
        lambda v: isinstance(v, (list, tuple)) and all(map(_is_dim, v)),
        "a list of integers and symbolic sizes",
    ),
    "padding": (
        lambda v: _is_ints(v) or v in ("same", "valid"),
        'an integer, a list of integers, "same" or "valid"',
    ),
}

INIT = Attr("init", "str", "default", ("default", "kaiming", "xavier", "normal", "zeros"))


# Helpers shared by the shape rules.
def need_rank(
    op: str, t: TensorType, ranks: tuple[int, ...], layout: str, hint: str | None = None
) -> None:
    if t.rank not in ranks:
        want = " or ".join(f"{r}-D" for r in ranks)
        raise ShapeError(
            f"{op} expects a {want} input {layout}, got {format_shape(t.shape)}", hint, "NL3003"
        )


def need_spatial(op: str, t: TensorType, n: int) -> None:
    """[N, C, L] for a 1-D op (conv1d, pools), [N, C, H, W] for a 2-D one."""
    need_rank(op, t, (n + 2,), "[N, C, L]" if n == 1 else "[N, C, H, W]")


def weight_and_bias(weight: tuple[int, ...], a: Attrs, out: int) -> dict[str, tuple[int, ...]]:
    """A layer's `weight`, and its `bias` of `out` values unless `bias=false` (torch's names)."""
    return {"weight": weight, **({"bias": (out,)} if a["bias"] else {})}


def static(op: str, t: TensorType, axis: int, what: str) -> int:
    d = t.shape[axis]
    if not isinstance(d, int):
        raise ShapeError(
            f"{op} needs a fixed number of {what}, but the input "
            f"{format_shape(t.shape)} has `{d}` there",
            code="NL3003",
        )
    return d


def tuple_of(value: Any, n: int) -> tuple[int, ...]:
    """Normalise `3` or `[3, 3]` to an n-tuple; a wrong length is an error."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ShapeError(f"expected {n} values, got {len(value)}: {list(value)}", code="NL2005")
        return tuple(value)
    return (value,) * n


def window_out(
    op: str,
    size: Dim,
    kernel: int,
    stride: int,
    pad_lo: int,
    pad_hi: int,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> Dim:
    """Output length of a sliding window (conv or pool) by torch's formula; symbolic sizes stay
    symbolic."""
    span = dilation * (kernel - 1) + 1
    if isinstance(size, str):
        if span == 1 + pad_lo + pad_hi and stride == 1:
            return size
        return f"{size}'"
    padded = size + pad_lo + pad_hi
    if padded < span:
        raise ShapeError(
            f"{op} window ({span}) is larger than its padded input ({padded})",
            "use a smaller kernel or more padding, or remove a pooling step earlier",
            "NL3004",
        )
    rounding = math.ceil if ceil_mode else math.floor
    out = rounding((padded - span) / stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_lo:
        out -= 1  # torch: the last window must start inside the input or left padding
    return out


def broadcast(op: str, ins: Ins) -> TensorType:
    """numpy broadcasting of the input shapes (right-aligned; a 1 stretches). A symbolic dim
    matches itself or 1; anything that cannot be proven to broadcast is an error."""
    rank = max(t.rank for t in ins)
    padded = [(1,) * (rank - t.rank) + t.shape for t in ins]
    shape: list[Dim] = []
    for axis, sizes in enumerate(zip(*padded)):
        distinct = list(dict.fromkeys(d for d in sizes if d != 1))
        if len(distinct) > 1:
            raise ShapeError(
                f"{op} cannot broadcast "
                + " and ".join(format_shape(t.shape) for t in ins)
                + f": sizes {' and '.join(map(str, distinct))} on axis {axis}",
                "make the sizes equal, or 1 on one side (e.g. a 1x1 conv2d projection)",
                "NL3001",
            )
        shape.append(distinct[0] if distinct else 1)
    return ins[0].with_shape(tuple(shape))


class AttrError(Exception):
    """An argument that does not fit the op's schema; `arg` is its position or keyword, if one,
    and `item` the index of the offending item when the argument is a list."""

    def __init__(
        self,
        code: str,
        message: str,
        hint: str | None = None,
        arg: int | str | None = None,
        item: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.hint, self.arg, self.item = code, message, hint, arg, item


def bind(spec: OpSpec, positional: list[Any], keyword: dict[str, Any]) -> dict[str, Any]:
    """Bind call arguments to `spec.attrs`, filling defaults and checking kinds."""
    from netlang.diagnostics import did_you_mean

    if len(positional) > len(spec.attrs):
        most = (
            f"at most {len(spec.attrs)} positional argument{'s' if len(spec.attrs) != 1 else ''}"
            if spec.attrs
            else "no arguments"
        )
        raise AttrError(
            "NL2017", f"{spec.name} takes {most}, got {len(positional)}", arg=len(spec.attrs)
        )
    values = dict(zip((a.name for a in spec.attrs), positional))
    for key, value in keyword.items():
        if spec.attr(key) is None:
            names = [a.name for a in spec.attrs]
            hint = did_you_mean(key, names) or (
                f"{spec.name} takes: {', '.join(names)}"
                if names
                else f"{spec.name} takes no arguments"
            )
            raise AttrError("NL2003", f"{spec.name} has no argument `{key}`", hint, key)
        if key in values:
            raise AttrError("NL2003", f"{spec.name} got `{key}` twice", arg=key)
        values[key] = value
    bound: dict[str, Any] = {}
    for index, attr in enumerate(spec.attrs):
        where: int | str = index if index < len(positional) else attr.name
        if attr.name not in values:
            if attr.required:
                raise AttrError(
                    "NL2004",
                    f"{spec.name} is missing its argument `{attr.name}`",
                    f"write e.g. {spec.name}({attr.name}=...)",
                )
            bound[attr.name] = attr.default
            continue
        value = values[attr.name]
        check, wanted = CHECKS[attr.kind]
        if not (value is None and attr.default is None) and not check(value):
            raise AttrError(
                "NL2005",
                f"{spec.name} argument `{attr.name}` must be {wanted}, "
                f"got {_offending(value, attr.kind)}",
                arg=where,
                item=_bad_item(value, attr.kind),
            )
        if attr.choices and value not in attr.choices:
            raise AttrError(
                "NL2005",
                f"{spec.name} argument `{attr.name}` must be one of "
                + ", ".join(f'"{c}"' for c in attr.choices)
                + f", got {describe(value)}",
                did_you_mean(str(value), attr.choices),
                where,
            )
        _check_size(spec.name, attr.name, value, where)
        bound[attr.name] = list(value) if isinstance(value, tuple) else value
    return bound


# Sizes and counts, by attribute name across all ops: at least 1 (padding at least 0), and at
# most MAX_SIZE (MAX_LAYERS for stacked layers), so nothing the compiler allocates is empty,
# negative or unbounded.
POSITIVE = frozenset(
    {"channels", "kernel", "stride", "dilation", "groups", "features", "num", "dim", "hidden"}
    | {"layers", "heads", "parts", "size", "window"}
)
NON_NEGATIVE = frozenset({"padding", "output_padding", "shift"})
MAX_SIZE = 2**31 - 1
FLOAT32_MAX = 3.4028234663852886e38
MAX_LAYERS = 1000


def _check_size(op: str, name: str, value: Any, where: int | str) -> None:
    if name == "eps" and not 0 < value <= FLOAT32_MAX:  # a norm's divisor guard: a float32 > 0
        raise AttrError(
            "NL2005",
            f"{op} argument `eps` must be a positive float32 number, got {value}",
            arg=where,
        )
    if name not in POSITIVE and name not in NON_NEGATIVE:
        return
    values = value if isinstance(value, (list, tuple)) else [value]
    least = 1 if name in POSITIVE else 0
    most = MAX_LAYERS if name == "layers" else MAX_SIZE
    for v in values:
        if not _is_int(v):
            continue
        if v < least:
            what = "at least 1" if least else "0 or more"
            raise AttrError("NL2005", f"{op} argument `{name}` must be {what}, got {v}", arg=where)
        if v > most:
            raise AttrError(
                "NL2022",
                f"{op} argument `{name}` is {v}; the most the compiler allows is {most}",
                arg=where,
            )


def _bad_item(value: Any, kind: str) -> int | None:
    """The index of a list's first item that is not an integer (a size, for `dims`), if any."""
    if not isinstance(value, (list, tuple)):
        return None
    fits = _is_dim if kind == "dims" else _is_int
    return next((i for i, v in enumerate(value) if not fits(v)), None)


def _offending(value: Any, kind: str) -> str:
    """What is wrong with a value: for a list, its first item that does not fit."""
    index = _bad_item(value, kind)
    if index is None:
        return describe(value)
    item = value[index]
    kind = " (a symbolic dim, known only at run time)" if isinstance(item, str) else ""
    return f"a list whose item {index} is {describe(item)}{kind}"


def describe(value: Any) -> str:
    """How a compile-time value reads in a message."""
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (int, float)):
        return f"`{value}`"
    if isinstance(value, (list, tuple)):
        return "a list"
    return getattr(value, "description", type(value).__name__)
