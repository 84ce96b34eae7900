"""Normalisation and dropout: batchnorm1d/2d, layernorm(2d), local response norm, dropout,
drop_path."""

from __future__ import annotations

from netlang.ir import TensorType
from netlang.ops.registry import Attr, Attrs, Ins, OpSpec, ShapeError, need_rank, register, static


def _batchnorm(n: int, ranks: tuple[int, ...], layout: str) -> OpSpec:
    name = f"batchnorm{n}d"

    def infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
        need_rank(name, ins[0], ranks, layout)
        static(name, ins[0], 1, "channels")
        return (ins[0],)

    def params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
        c = ins[0].shape[1]
        assert isinstance(c, int)
        return {"weight": (c,), "bias": (c,)} if a["affine"] else {}

    def buffers(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
        c = ins[0].shape[1]
        assert isinstance(c, int)
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}

    return OpSpec(
        name,
        f"Batch normalisation over axis 1 of {layout}; running statistics for inference.",
        (Attr("eps", "float", 1e-5), Attr("momentum", "float", 0.1), Attr("affine", "bool", True)),
        infer,
        params,
        buffers,
    )


batchnorm1d = register(_batchnorm(1, (2, 3), "[N, C] or [N, C, L]"))
batchnorm2d = register(_batchnorm(2, (4,), "[N, C, H, W]"))


def _trailing(ins: Ins, a: Attrs) -> tuple[int, ...]:
    dims = a["dims"]
    if not 1 <= dims < ins[0].rank:
        raise ShapeError(
            f"layernorm dims must be between 1 and {ins[0].rank - 1}, got {dims}", code="NL2005"
        )
    shape = ins[0].shape[-dims:]
    for d in shape:
        if not isinstance(d, int):
            raise ShapeError(
                f"layernorm cannot normalise over the symbolic dim `{d}`", code="NL3003"
            )
    return tuple(int(d) for d in shape)


def _layernorm_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    _trailing(ins, a)
    return (ins[0],)


def _layernorm_params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
    shape = _trailing(ins, a)
    return {"weight": shape, "bias": shape} if a["affine"] else {}


layernorm = register(
    OpSpec(
        "layernorm",
        "Layer normalisation over the last `dims` axes.",
        (Attr("dims", "int", 1), Attr("eps", "float", 1e-5), Attr("affine", "bool", True)),
        _layernorm_infer,
        _layernorm_params,
    )
)


def _layernorm2d_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    need_rank("layernorm2d", ins[0], (4,), "[N, C, H, W]")
    static("layernorm2d", ins[0], 1, "channels")
    return (ins[0],)


def _layernorm2d_params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
    c = static("layernorm2d", ins[0], 1, "channels")
    return {"weight": (c,), "bias": (c,)}


layernorm2d = register(
    OpSpec(
        "layernorm2d",
        "Layer normalisation over the channels of [N, C, H, W] at each position "
        "(ConvNeXt's channels-first LayerNorm2d).",
        (Attr("eps", "float", 1e-6),),
        _layernorm2d_infer,
        _layernorm2d_params,
    )
)


def _lrn_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    need_rank("lrn", ins[0], (3, 4, 5), "[N, C, ...]")
    channels = ins[0].shape[1]
    if not isinstance(channels, int) and (a["size"] % 2 == 0 or len(ins[0].shape) != 4):
        raise ShapeError(  # ONNX's LRN: odd sizes on [N, C, H, W]; else a conv over C channels
            f"lrn of size {a['size']} on a {len(ins[0].shape)}-D input needs a fixed channel "
            f"count, not {channels}: ONNX's LRN takes odd sizes on [N, C, H, W] only",
            "use an odd size on [N, C, H, W], or declare the channel count",
            code="NL4001",
        )
    return (ins[0],)


lrn = register(
    OpSpec(
        "lrn",
        "Local response normalisation across channels (AlexNet, GoogLeNet papers).",
        (
            Attr("size", "int", 5),
            Attr("alpha", "float", 1e-4),
            Attr("beta", "float", 0.75),
            Attr("k", "float", 1.0),
        ),
        _lrn_infer,
    )
)


def _dropout_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    if not 0 <= a["p"] < 1:
        raise ShapeError(f"dropout probability must be in [0, 1), got {a['p']}", code="NL2005")
    return (ins[0],)


dropout = register(
    OpSpec(
        "dropout",
        "Zeroes each element with probability p while training; identity at inference.",
        (Attr("p", "float", 0.5),),
        _dropout_infer,
    )
)


drop_path = register(
    OpSpec(
        "drop_path",
        "Stochastic depth: while training, zeroes a whole sample's branch with probability p "
        "and rescales the rest by 1 / (1 - p); identity at inference.",
        (Attr("p", "float", 0.0),),
        _dropout_infer,
    )
)
