"""Pooling: max/avg pool 1d/2d, adaptive average pool, global pools."""

from __future__ import annotations

from netlang.ir import TensorType
from netlang.ops.registry import (
    Attr,
    Attrs,
    Ins,
    OpSpec,
    ShapeError,
    need_rank,
    need_spatial,
    register,
    tuple_of,
    window_out,
)


def _pool(kind: str, n: int) -> OpSpec:
    name = f"{kind}pool{n}d"
    attrs = [Attr("kernel", "ints"), Attr("stride", "ints", None), Attr("padding", "ints", 0)]
    if kind == "max":
        attrs.append(Attr("dilation", "ints", 1))
    attrs.append(Attr("ceil_mode", "bool", False))
    if kind == "avg":
        attrs.append(Attr("count_include_pad", "bool", True))

    def infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
        need_spatial(name, ins[0], n)
        kernel = tuple_of(a["kernel"], n)
        stride = tuple_of(a["stride"] if a["stride"] is not None else a["kernel"], n)
        pads, dilation = tuple_of(a["padding"], n), tuple_of(a.get("dilation", 1), n)
        if any(2 * p > k for p, k in zip(pads, kernel)):
            raise ShapeError(
                f"{name} padding {a['padding']} is more than half the kernel {a['kernel']}",
                code="NL2005",
            )
        spatial = tuple(
            window_out(name, size, k, s, p, p, d, a["ceil_mode"])
            for size, k, s, p, d in zip(ins[0].shape[2:], kernel, stride, pads, dilation)
        )
        return (ins[0].with_shape((*ins[0].shape[:2], *spatial)),)

    what = "maximum" if kind == "max" else "average"
    return OpSpec(
        name, f"{n}-D {what} pooling; stride defaults to the kernel.", tuple(attrs), infer
    )


for _kind in ("max", "avg"):
    for _n in (1, 2):
        register(_pool(_kind, _n))


# Sizes that neither divide nor are divided lower to an averaging matrix per axis (onnx_ops).
MAX_AVERAGING = 2**24


def _adaptive(n: int) -> OpSpec:
    name = f"adaptive_avgpool{n}d"

    def infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
        need_spatial(name, ins[0], n)
        size, spatial = tuple_of(a["size"], n), ins[0].shape[2:]
        if any(s != 1 for s in size) and not all(isinstance(d, int) for d in spatial):
            raise ShapeError(
                f"{name} to {list(size)} needs a fixed input size, not "
                f"[{', '.join(map(str, spatial))}]: "
                "ONNX has no adaptive pooling, only windows of a size known when exporting",
                "declare the input's size, or pool to 1 (global pooling takes any size)",
                code="NL4001",
            )
        for d, o in zip(spatial, size):
            if isinstance(d, int) and d % o and o % d and d * o > MAX_AVERAGING:
                raise ShapeError(
                    f"{name} from {d} to {o} along an axis needs a {o} x {d} averaging matrix in "
                    f"the exported graph, more than the {MAX_AVERAGING:,} entries allowed",
                    "pool to a size that divides the input's, or to a multiple of it",
                    "NL2023",
                )
        return (ins[0].with_shape((*ins[0].shape[:2], *size)),)

    return OpSpec(
        name,
        "Average pooling to a fixed output size, whatever the input size.",
        (Attr("size", "ints"),),
        infer,
    )


adaptive_avgpool1d = register(_adaptive(1))
adaptive_avgpool2d = register(_adaptive(2))


def _global_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    need_rank("global pooling", ins[0], (3, 4, 5), "[N, C, ...]")
    return (ins[0].with_shape(ins[0].shape[:2]),)


global_avgpool = register(
    OpSpec(
        "global_avgpool",
        "Mean over all spatial positions: [N, C, ...] -> [N, C].",
        (),
        _global_infer,
    )
)
global_maxpool = register(
    OpSpec(
        "global_maxpool",
        "Max over all spatial positions: [N, C, ...] -> [N, C].",
        (),
        _global_infer,
    )
)
