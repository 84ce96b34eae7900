"""ONNX lowering of every registry op: one IR node -> ONNX NodeProtos, with inference semantics.

`LOWERINGS` is keyed by the op names of `netlang.ops.REGISTRY` (a test checks it is complete). A
lowering reads the IR node and the ONNX names of its inputs and outputs from a `Lowering` and adds
nodes to it. Parameters are referenced by their `state_dict` names (`features.0.weight`); where
ONNX wants them rearranged (LSTM/GRU gate order) the graph does it with Gather/Concat, which
onnxruntime folds at load time, so the initializers stay exactly the checkpoint's tensors.
Dropout is the identity and batch norm uses its running statistics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from onnx import helper

from netlang.backends.onnx_lowering import Lower, Lowering, LoweringError
from netlang.backends.onnx_sequence import (
    attention,
    expand_batch,
    masked_mean,
    padding_mask,
    recurrent,
)
from netlang.backends.onnx_window import patch_merging, window_attention
from netlang.ir import Node
from netlang.ops.conv import conv_pads
from netlang.ops.merge import split_sizes
from netlang.ops.reshape import reshape_plan
from netlang.ops.registry import tuple_of, window_out


def lower(
    node: Node,
    inputs: Sequence[str],
    outputs: Sequence[str],
    float_type: type[np.floating[Any]] = np.float32,
) -> Lowering:
    """Lower one IR node; the result holds its ONNX nodes and the initializers they use."""
    lowering = Lowering(node, tuple(inputs), tuple(outputs), float_type)
    LOWERINGS[node.op](lowering)
    return lowering


# Activations and element-wise ops.
def _simple(op_type: str, **attrs: Callable[[dict[str, Any]], Any]) -> Lower:
    """A one-node lowering whose ONNX attributes are computed from the IR attributes."""

    def lower_simple(ctx: Lowering) -> None:
        ctx.emit(op_type, ctx.inputs, **{k: f(ctx.attrs) for k, f in attrs.items()})

    return lower_simple


def _silu(ctx: Lowering) -> None:
    ctx.emit("Mul", [ctx.x, ctx.emit("Sigmoid", [ctx.x], "sigmoid")])


def _clip(low: float | None, high: float | None) -> Lower:
    """Clip between fixed bounds (relu6); None leaves that side open."""

    def lower_clip(ctx: Lowering) -> None:
        bounds = [
            ctx.floats(name, v) if v is not None else ""
            for name, v in (("min", low), ("max", high))
        ]
        ctx.emit("Clip", [ctx.x, *bounds])

    return lower_clip


def _clamp(ctx: Lowering) -> None:
    _clip(ctx.attrs["min"], ctx.attrs["max"])(ctx)


def _variadic(op_type: str) -> Lower:
    """A chain of binary nodes (Add, Mul) over two or more inputs."""

    def lower_chain(ctx: Lowering) -> None:
        acc = ctx.inputs[0]
        for i, value in enumerate(ctx.inputs[1:-1], 1):
            acc = ctx.emit(op_type, [acc, value], f"{op_type.lower()}{i}")
        ctx.emit(op_type, [acc, ctx.inputs[-1]])

    return lower_chain


def _scalar(ctx: Lowering) -> None:
    """Add/Sub/Mul/Div with the number as a constant of the model's float type."""
    value = ctx.floats("value", ctx.attrs["value"])
    pair = [value, ctx.x] if ctx.attrs["reverse"] else [ctx.x, value]
    ctx.emit(ctx.attrs["op"].capitalize(), pair)


def _split(ctx: Lowering) -> None:
    sizes = split_sizes(ctx.node.input_types[0], ctx.attrs)
    ctx.emit("Split", [ctx.x, ctx.ints("sizes", sizes)], axis=ctx.attrs["axis"])


# Dense layers and convolutions.
def _linear(ctx: Lowering) -> None:
    weight, bias = ctx.param("weight"), ctx.optional("bias")
    if len(ctx.shape) == 2:
        ctx.emit("Gemm", [ctx.x, weight, bias], transB=1)
        return
    transposed = ctx.emit("Transpose", [weight], "weight_t", perm=[1, 0])
    product = ctx.emit("MatMul", [ctx.x, transposed], "matmul" if bias else None)
    if bias:
        ctx.emit("Add", [product, bias])


def _embedding(ctx: Lowering) -> None:
    ctx.emit("Gather", [ctx.param("weight"), ctx.x], axis=0)


def _conv(ctx: Lowering) -> None:
    a, n = ctx.attrs, len(ctx.shape) - 2
    kernel, stride, dilation = (tuple_of(a[k], n) for k in ("kernel", "stride", "dilation"))
    pads = conv_pads(ctx.node.op, a, kernel, dilation, stride)
    ctx.emit(
        "Conv",
        [ctx.x, ctx.param("weight"), ctx.optional("bias")],
        kernel_shape=list(kernel),
        strides=list(stride),
        dilations=list(dilation),
        group=a["groups"],
        pads=[lo for lo, _ in pads] + [hi for _, hi in pads],
    )


def _conv_transpose(ctx: Lowering) -> None:
    a = ctx.attrs
    kernel, stride, dilation, pads, extra = (
        tuple_of(a[k], 2) for k in ("kernel", "stride", "dilation", "padding", "output_padding")
    )
    ctx.emit(
        "ConvTranspose",
        [ctx.x, ctx.param("weight"), ctx.optional("bias")],
        kernel_shape=list(kernel),
        strides=list(stride),
        dilations=list(dilation),
        group=a["groups"],
        pads=list(pads) * 2,
        output_padding=list(extra),
    )


# Normalisation.
def _batchnorm(ctx: Lowering) -> None:
    scale, bias = _affine(ctx, ctx.shape[1:2])
    statistics = [ctx.param("running_mean"), ctx.param("running_var")]
    ctx.emit(
        "BatchNormalization", [ctx.x, scale, bias, *statistics], epsilon=float(ctx.attrs["eps"])
    )


def _layernorm(ctx: Lowering) -> None:
    dims = ctx.attrs["dims"]
    scale, bias = _affine(ctx, ctx.shape[-dims:])
    ctx.emit(
        "LayerNormalization", [ctx.x, scale, bias], axis=-dims, epsilon=float(ctx.attrs["eps"])
    )


def _layernorm2d(ctx: Lowering) -> None:
    last = ctx.emit("Transpose", [ctx.x], "channels_last", perm=[0, 2, 3, 1])
    normed = ctx.emit(
        "LayerNormalization",
        [last, ctx.param("weight"), ctx.param("bias")],
        "normed",
        axis=-1,
        epsilon=float(ctx.attrs["eps"]),
    )
    ctx.emit("Transpose", [normed], perm=[0, 3, 1, 2])


def _affine(ctx: Lowering, shape: tuple[int | str, ...]) -> tuple[str, str]:
    """The learned scale and shift, or constants 1 and 0 of `shape` when `affine` is off."""
    if ctx.attrs["affine"]:
        return ctx.param("weight"), ctx.param("bias")
    return ctx.floats("scale", np.ones(shape)), ctx.floats("bias", np.zeros(shape))


def _lrn(ctx: Lowering) -> None:
    """ONNX LRN sums channels [c - (size-1)//2, c + size//2]; torch sums [c - size//2,
    c + (size-1)//2]. They agree for odd sizes, but onnxruntime implements LRN only for odd
    sizes on 4-D input; otherwise it is spelt out: x / (k + alpha/size * window_sum(x^2))^beta,
    the window sum being a 1x1 convolution with a banded 0/1 matrix over the channels."""
    size, a = ctx.attrs["size"], ctx.attrs
    if size % 2 and len(ctx.shape) == 4:
        ctx.emit(
            "LRN",
            [ctx.x],
            size=size,
            alpha=float(a["alpha"]),
            beta=float(a["beta"]),
            bias=float(a["k"]),
        )
        return
    channels = ctx.shape[1]
    if not isinstance(channels, int):
        raise LoweringError(
            ctx.node,
            f"lrn of size {size} on a {len(ctx.shape)}-D input needs a fixed channel count",
            "use an odd size on [N, C, H, W]",
        )
    offset = np.arange(channels)[None, :] - np.arange(channels)[:, None]  # [out c, in c']
    band = (offset >= -(size // 2)) & (offset <= (size - 1) // 2)
    band = band.reshape(channels, channels, *[1] * (len(ctx.shape) - 2))
    square = ctx.emit("Mul", [ctx.x, ctx.x], "square")
    window = ctx.emit("Conv", [square, ctx.floats("band", band)], "window_sum")
    scaled = ctx.emit("Mul", [window, ctx.floats("alpha", a["alpha"] / size)], "scaled")
    shifted = ctx.emit("Add", [scaled, ctx.floats("k", a["k"])], "shifted")
    denominator = ctx.emit("Pow", [shifted, ctx.floats("beta", a["beta"])], "denominator")
    ctx.emit("Div", [ctx.x, denominator])


def _identity(ctx: Lowering) -> None:
    ctx.emit("Identity", ctx.inputs)


# Pooling.
def _pool(op_type: str) -> Lower:
    def lower_pool(ctx: Lowering) -> None:
        a, n = ctx.attrs, len(ctx.shape) - 2
        kernel = tuple_of(a["kernel"], n)
        stride = tuple_of(a["stride"] if a["stride"] is not None else a["kernel"], n)
        pads, dilation = tuple_of(a["padding"], n), tuple_of(a.get("dilation", 1), n)
        ceil_mode, trim = _ceil_mode(ctx, kernel, stride, pads, dilation)
        attrs: dict[str, Any] = dict(
            kernel_shape=list(kernel),
            strides=list(stride),
            pads=list(pads) * 2,
            ceil_mode=ceil_mode,
        )
        if "dilation" in a:
            attrs["dilations"] = list(dilation)
        if "count_include_pad" in a:
            attrs["count_include_pad"] = int(a["count_include_pad"])
        if not trim:
            ctx.emit(op_type, [ctx.x], **attrs)
            return
        pooled = ctx.emit(op_type, [ctx.x], "pool", **attrs)
        axes, ends = zip(*trim.items())
        ctx.emit(
            "Slice",
            [
                pooled,
                ctx.ints("starts", [0] * len(axes)),
                ctx.ints("ends", ends),
                ctx.ints("axes", axes),
            ],
        )

    return lower_pool


def _ceil_mode(
    ctx: Lowering,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    pads: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[int, dict[int, int]]:
    """ONNX's ceil_mode flag, and the axes whose extra last window must be cut off (axis -> size).

    torch drops a last window that would start in the right padding; onnx's shape inference
    keeps it (onnxruntime drops it too), so where that rule bites the output is sliced to
    torch's size, making the declared and inferred shapes agree."""
    spatial, outs = ctx.shape[2:], ctx.node.output_types[0].shape[2:]
    if not ctx.attrs["ceil_mode"]:
        return 0, {}
    if not all(isinstance(size, int) for size in spatial):
        return 1, {}
    floors = tuple(
        window_out(ctx.node.op, size, k, s, p, p, d)
        for size, k, s, p, d in zip(spatial, kernel, stride, pads, dilation)
    )
    if outs == floors:
        return 0, {}
    trim = {}
    for axis, (size, k, s, p, d, out) in enumerate(
        zip(spatial, kernel, stride, pads, dilation, outs), 2
    ):
        if math.ceil((int(size) + 2 * p - d * (k - 1) - 1) / s) + 1 != out:
            trim[axis] = int(out)
    return 1, trim


def _adaptive_avgpool(ctx: Lowering) -> None:
    """Adaptive pooling along an axis is an AveragePool when the output size divides the input
    size, and a nearest (floor) upsampling when the input size divides the output size: each
    output bin i then covers exactly input i // (out / in), as torch computes it (a 1x1 map
    pooled to 7x7 is VGG's trunk on a 32x32 image). Other (fixed) sizes, whose bins overlap or
    differ in width, are averaging matrices, one per axis (the shape rule
    refused symbolic sizes)."""
    spatial = ctx.shape[2:]
    out = tuple_of(ctx.attrs["size"], len(spatial))
    if all(o == 1 for o in out):
        ctx.emit("GlobalAveragePool", [ctx.x])
        return
    if not all(i % o == 0 or o % i == 0 for i, o in zip(spatial, out)):
        _adaptive_by_matrices(ctx, [int(i) for i in spatial], out)
        return
    kernel = [max(int(i) // o, 1) for i, o in zip(spatial, out)]
    scales = [max(o // int(i), 1) for i, o in zip(spatial, out)]
    grows = any(s > 1 for s in scales)
    pooled = ctx.x
    if any(k > 1 for k in kernel) or not grows:
        pooled = ctx.emit(
            "AveragePool", [ctx.x], "pool" if grows else None, kernel_shape=kernel, strides=kernel
        )
    if grows:
        factors = ctx.const("scales", np.asarray([1.0, 1.0, *scales], np.float32))
        ctx.emit(
            "Resize",
            [pooled, "", factors],
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )


def _adaptive_by_matrices(ctx: Lowering, spatial: list[int], out: tuple[int, ...]) -> None:
    """Output bin i of an axis of size n -> o averages inputs floor(i*n/o) .. ceil((i+1)*n/o)-1,
    as torch does: x @ A_w^T, then A_h @ that (MatMul broadcasts over N and C)."""
    matrices = []
    for n, o in zip(spatial, out):
        average = np.zeros((o, n))
        for i in range(o):
            start, stop = (i * n) // o, -(-(i + 1) * n // o)
            average[i, start:stop] = 1 / (stop - start)
        matrices.append(average)
    last = "width" if len(spatial) == 2 else None
    y = ctx.emit("MatMul", [ctx.x, ctx.floats("pool_width", matrices[-1].T)], last)
    if len(spatial) == 2:
        ctx.emit("MatMul", [ctx.floats("pool_height", matrices[0]), y])


def _global(op_type: str) -> Lower:
    def lower_global(ctx: Lowering) -> None:
        axes = list(range(2, len(ctx.shape)))
        ctx.emit(op_type, [ctx.x, ctx.ints("axes", axes)], keepdims=0)

    return lower_global


# Layout.
def _flatten(ctx: Lowering) -> None:
    rank = len(ctx.shape)
    start, end = ctx.attrs["start"] % rank, ctx.attrs["end"] % rank
    if (start, end) == (1, rank - 1):
        ctx.emit("Flatten", [ctx.x], axis=1)
        return
    out = ctx.node.output_types[0].shape
    target = [0] * start + [d if isinstance(d, int) else -1 for d in out[start:]]
    if target.count(-1) > 1:
        raise LoweringError(
            ctx.node, f"flatten of {list(ctx.shape)} leaves more than one symbolic size to infer"
        )
    ctx.emit("Reshape", [ctx.x, ctx.ints("shape", target)])


def _reshape(ctx: Lowering) -> None:
    out = ctx.node.output_types[0].shape
    if all(isinstance(d, int) for d in out[1:]):
        ctx.emit("Reshape", [ctx.x, ctx.ints("shape", [0, *out[1:]])])
        return
    # Symbolic sizes: the input's sizes there, gathered from its Shape when the model runs.
    plan = reshape_plan(ctx.node.input_types[0].shape, out)
    sizes = ctx.emit("Shape", [ctx.x], "shape")
    picked = ctx.emit(
        "Gather", [sizes, ctx.ints("axes", [v if k == "axis" else 0 for k, v in plan])], "picked"
    )
    fixed = ctx.ints("fixed", [0 if k == "axis" else v for k, v in plan])
    mask = ctx.ints("mask", [int(k == "axis") for k, _ in plan])
    target = ctx.emit("Add", [ctx.emit("Mul", [picked, mask], "keep"), fixed], "target")
    ctx.emit("Reshape", [ctx.x, target])


def _select(ctx: Lowering) -> None:
    ctx.emit("Gather", [ctx.x, ctx.ints("index", ctx.attrs["index"])], axis=ctx.attrs["axis"])


def _upsample(ctx: Lowering) -> None:
    """torch's nearest picks floor(i / scale) (ONNX asymmetric + floor); bilinear without
    align_corners samples at half-pixel centres."""
    scale = float(ctx.attrs["scale"])
    scales = ctx.const("scales", np.asarray([1.0, 1.0, scale, scale], np.float32))
    if ctx.attrs["mode"] == "nearest":
        modes = dict(
            mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"
        )
    else:
        modes = dict(mode="linear", coordinate_transformation_mode="half_pixel")
    ctx.emit("Resize", [ctx.x, "", scales], **modes)


def _cast(ctx: Lowering) -> None:
    """float32 is the model's float type (float16 inside an `--fp16` export)."""
    dtype = ctx.float_type if ctx.attrs["dtype"] == "float32" else ctx.attrs["dtype"]
    ctx.emit("Cast", [ctx.x], to=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


LOWERINGS: dict[str, Lower] = {
    "relu": _simple("Relu"),
    "leaky_relu": _simple("LeakyRelu", alpha=lambda a: float(a["slope"])),
    "elu": _simple("Elu", alpha=lambda a: float(a["alpha"])),
    "gelu": _simple("Gelu", approximate=lambda a: a["approximate"]),
    "sigmoid": _simple("Sigmoid"),
    "tanh": _simple("Tanh"),
    "silu": _silu,
    "relu6": _clip(0.0, 6.0),
    "hardsigmoid": _simple("HardSigmoid", alpha=lambda a: 1 / 6, beta=lambda a: 0.5),
    "hardswish": _simple("HardSwish"),
    "clamp": _clamp,
    "softmax": _simple("Softmax", axis=lambda a: a["axis"]),
    "log_softmax": _simple("LogSoftmax", axis=lambda a: a["axis"]),
    "conv1d": _conv,
    "conv2d": _conv,
    "conv_transpose2d": _conv_transpose,
    "linear": _linear,
    "embedding": _embedding,
    "add": _variadic("Add"),
    "mul": _variadic("Mul"),
    "scalar": _scalar,
    "concat": _simple("Concat", axis=lambda a: a["axis"]),
    "split": _split,
    "batchnorm1d": _batchnorm,
    "batchnorm2d": _batchnorm,
    "layernorm": _layernorm,
    "layernorm2d": _layernorm2d,
    "drop_path": _identity,
    "matmul": _simple("MatMul"),
    "attention": attention,
    "window_attention": window_attention,
    "patch_merging": patch_merging,
    "padding_mask": padding_mask,
    "masked_mean": masked_mean,
    "param": lambda ctx: ctx.emit("Identity", [ctx.param("")]),
    "expand_batch": expand_batch,
    "lrn": _lrn,
    "dropout": _identity,
    "maxpool1d": _pool("MaxPool"),
    "maxpool2d": _pool("MaxPool"),
    "avgpool1d": _pool("AveragePool"),
    "avgpool2d": _pool("AveragePool"),
    "adaptive_avgpool1d": _adaptive_avgpool,
    "adaptive_avgpool2d": _adaptive_avgpool,
    "global_avgpool": _global("ReduceMean"),
    "global_maxpool": _global("ReduceMax"),
    "flatten": _flatten,
    "reshape": _reshape,
    "permute": _simple("Transpose", perm=lambda a: list(a["dims"])),
    "select": _select,
    "upsample": _upsample,
    "cast": _cast,
    "lstm": recurrent,
    "gru": recurrent,
}
