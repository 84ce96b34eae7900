"""Convolutions: conv1d, conv2d, conv_transpose2d."""

from __future__ import annotations

import math

from netlang.ir import TensorType, numel
from netlang.ops.registry import (
    INIT,
    Attr,
    Attrs,
    Ins,
    OpSpec,
    ShapeError,
    need_spatial,
    register,
    static,
    tuple_of,
    weight_and_bias,
    window_out,
)

_ATTRS = (
    Attr("channels", "int"),
    Attr("kernel", "ints"),
    Attr("stride", "ints", 1),
    Attr("padding", "padding", 0),
    Attr("dilation", "ints", 1),
    Attr("groups", "int", 1),
    Attr("bias", "bool", True),
    INIT,
)


def conv_pads(
    op: str, a: Attrs, kernel: tuple[int, ...], dilation: tuple[int, ...], stride: tuple[int, ...]
) -> tuple[tuple[int, int], ...]:
    """Per-axis (low, high) padding; `same` splits odd totals as torch does (the extra on the
    high side)."""
    padding = a["padding"]
    if padding == "valid":
        return tuple((0, 0) for _ in kernel)
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ShapeError(
                f'{op} with padding="same" needs stride 1, got stride {a["stride"]}',
                "give the padding explicitly",
                "NL2005",
            )
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in tuple_of(padding, len(kernel)))


def _geometry(
    op: str, ins: Ins, a: Attrs, n: int
) -> tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    need_spatial(op, ins[0], n)
    c_in = static(op, ins[0], 1, "input channels")
    kernel = tuple_of(a["kernel"], n)
    stride, dilation = tuple_of(a["stride"], n), tuple_of(a["dilation"], n)
    groups = a["groups"]
    for what, count in (("input channels", c_in), ("output channels", a["channels"])):
        if count % groups:
            raise ShapeError(
                f"{op} {what} ({count}) must be divisible by groups ({groups})", code="NL3002"
            )
    return c_in, kernel, stride, dilation


def _conv(n: int) -> OpSpec:
    name = f"conv{n}d"

    def infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
        _, kernel, stride, dilation = _geometry(name, ins, a, n)
        pads = conv_pads(name, a, kernel, dilation, stride)
        spatial = tuple(
            window_out(name, size, k, s, lo, hi, d)
            for size, k, s, (lo, hi), d in zip(ins[0].shape[2:], kernel, stride, pads, dilation)
        )
        return (ins[0].with_shape((ins[0].shape[0], a["channels"], *spatial)),)

    def params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
        c_in = ins[0].shape[1]
        assert isinstance(c_in, int)
        weight = (a["channels"], c_in // a["groups"], *tuple_of(a["kernel"], n))
        return weight_and_bias(weight, a, a["channels"])

    def macs(ins: Ins, outs: tuple[TensorType, ...], a: Attrs) -> int:
        c_in = ins[0].shape[1]
        assert isinstance(c_in, int)
        return numel(outs[0].shape) * (c_in // a["groups"]) * math.prod(tuple_of(a["kernel"], n))

    return OpSpec(
        name,
        f"{n}-D convolution over [N, C, ...]; `channels` output channels.",
        _ATTRS,
        infer,
        params,
        macs=macs,
        tags=frozenset({"init"}),
    )


conv1d = register(_conv(1))
conv2d = register(_conv(2))


def _transpose_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    op = "conv_transpose2d"
    _, kernel, stride, dilation = _geometry(op, ins, a, 2)
    pads, extra = tuple_of(a["padding"], 2), tuple_of(a["output_padding"], 2)
    spatial = []
    for size, k, s, p, d, e in zip(ins[0].shape[2:], kernel, stride, pads, dilation, extra):
        if not (e < s or e < d):
            raise ShapeError(
                f"{op} output_padding {a['output_padding']} must be smaller than the "
                f"stride or the dilation",
                code="NL2005",
            )
        if isinstance(size, str):
            spatial.append(f"{size}'")
            continue
        out = (size - 1) * s - 2 * p + d * (k - 1) + e + 1
        if out < 1:
            raise ShapeError(f"{op} output size {out} is not positive", code="NL3004")
        spatial.append(out)
    return (ins[0].with_shape((ins[0].shape[0], a["channels"], *spatial)),)


def _transpose_params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
    c_in = ins[0].shape[1]
    assert isinstance(c_in, int)
    weight = (c_in, a["channels"] // a["groups"], *tuple_of(a["kernel"], 2))
    return weight_and_bias(weight, a, a["channels"])


def _transpose_macs(ins: Ins, outs: tuple[TensorType, ...], a: Attrs) -> int:
    return (
        numel(ins[0].shape) * (a["channels"] // a["groups"]) * math.prod(tuple_of(a["kernel"], 2))
    )


conv_transpose2d = register(
    OpSpec(
        "conv_transpose2d",
        "Transposed 2-D convolution (learned upsampling), as torch.nn.ConvTranspose2d.",
        (*_ATTRS[:3], Attr("padding", "ints", 0), Attr("output_padding", "ints", 0), *_ATTRS[4:]),
        _transpose_infer,
        _transpose_params,
        macs=_transpose_macs,
        tags=frozenset({"init"}),
    )
)
