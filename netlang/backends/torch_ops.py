"""Torch lowering table: one IR node -> a torch.nn module or a torch function call.

`LOWERINGS` is keyed by the op names of `netlang.ops.REGISTRY`, one entry per op. Ops with state
(parameters, buffers, or train/eval behaviour) lower to the standard torch.nn module, whose
`state_dict` names and shapes must equal the node's `params`/`buffers`; the rest lower to a
function that `torch_module` calls with the node's tensor inputs and constant arguments.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from netlang.backends.torch_window import PatchMerging, WindowAttention
from netlang.diagnostics import InternalCompilerError
from netlang.ir import Node
from netlang.ops.reshape import reshape_plan
from netlang.ops.merge import split_sizes
from netlang.ops.registry import tuple_of as _ints


@dataclass(frozen=True, slots=True)
class Lowered:
    """One node in torch terms: `target(*inputs, *args, **kwargs)`, then `[take]` if given.

    `target` is an nn.Module (called with the tensor inputs only), an nn.Parameter (a free
    tensor, read where it is stored) or a function. `inputs` says how
    the tensor inputs are passed: "each" positionally, "list" as one list (torch.cat), or "fold"
    pairwise left to right (n-ary add and mul).
    """

    target: nn.Module | nn.Parameter | Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    inputs: Literal["each", "list", "fold"] = "each"
    take: int | None = None


Lowering = Callable[[Node], Lowered]


def _channels_in(node: Node) -> int:
    c = node.input_types[0].shape[1]
    if not isinstance(c, int):
        raise InternalCompilerError("torch lowering", f"{node.name}: symbolic channel count `{c}`")
    return c


def _static_size(node: Node, axis: int) -> int:
    d = node.input_types[0].shape[axis]
    if not isinstance(d, int):
        raise InternalCompilerError(
            "torch lowering", f"{node.name}: symbolic size `{d}` on axis {axis}"
        )
    return d


# Ops with parameters, buffers or train/eval behaviour (and lrn): standard torch.nn modules.
def _conv(n: int) -> Lowering:
    module = {1: nn.Conv1d, 2: nn.Conv2d}[n]

    def lower(node: Node) -> Lowered:
        a = node.attrs
        padding = a["padding"] if isinstance(a["padding"], str) else _ints(a["padding"], n)
        return Lowered(
            module(
                _channels_in(node),
                a["channels"],
                _ints(a["kernel"], n),
                stride=_ints(a["stride"], n),
                padding=padding,
                dilation=_ints(a["dilation"], n),
                groups=a["groups"],
                bias=a["bias"],
            )
        )

    return lower


def _conv_transpose2d(node: Node) -> Lowered:
    a = node.attrs
    return Lowered(
        nn.ConvTranspose2d(
            _channels_in(node),
            a["channels"],
            _ints(a["kernel"], 2),
            stride=_ints(a["stride"], 2),
            padding=_ints(a["padding"], 2),
            output_padding=_ints(a["output_padding"], 2),
            groups=a["groups"],
            bias=a["bias"],
            dilation=_ints(a["dilation"], 2),
        )
    )


def _linear(node: Node) -> Lowered:
    a = node.attrs
    return Lowered(nn.Linear(_static_size(node, -1), a["features"], bias=a["bias"]))


def _embedding(node: Node) -> Lowered:
    a = node.attrs
    return Lowered(nn.Embedding(a["num"], a["dim"], padding_idx=a["padding_idx"]))


def _batchnorm(n: int) -> Lowering:
    module = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[n]

    def lower(node: Node) -> Lowered:
        a = node.attrs
        return Lowered(
            module(_channels_in(node), eps=a["eps"], momentum=a["momentum"], affine=a["affine"])
        )

    return lower


def _layernorm(node: Node) -> Lowered:
    a = node.attrs
    shape = tuple(_static_size(node, axis) for axis in range(-a["dims"], 0))
    return Lowered(
        nn.LayerNorm(shape, eps=a["eps"], elementwise_affine=a["affine"], bias=a["affine"])
    )


def _recurrent(module: type[nn.RNNBase]) -> Lowering:
    def lower(node: Node) -> Lowered:
        a = node.attrs
        rnn = module(
            _static_size(node, 2),
            a["hidden"],
            num_layers=a["layers"],
            bias=a["bias"],
            batch_first=a["batch_first"],
            dropout=a["dropout"],
            bidirectional=a["bidirectional"],
        )
        return Lowered(rnn, take=0)  # (output, state): the sequence only

    return lower


def _lrn(node: Node) -> Lowered:
    a = node.attrs
    return Lowered(nn.LocalResponseNorm(a["size"], alpha=a["alpha"], beta=a["beta"], k=a["k"]))


class SelfAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention (its state_dict names) applied to one sequence as query, key and
    value, returning the attended sequence only."""

    def __init__(self, features: int, heads: int, dropout: float, bias: bool, causal: bool):
        super().__init__(features, heads, dropout=dropout, bias=bias, batch_first=True)
        self.causal = causal

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`keep` [N, T] (padding_mask) masks the keys where it is 0 by the dtype's lowest value,
        not -inf, so a row with nothing kept attends evenly instead of giving NaN (as ONNX)."""
        lowest = torch.finfo(x.dtype).min
        mask = padded = None
        if self.causal:
            steps = x.shape[1]
            blocked = torch.ones(steps, steps, dtype=torch.bool, device=x.device).triu(1)
            mask = torch.zeros(steps, steps, dtype=x.dtype, device=x.device)
            mask = mask.masked_fill(blocked, float("-inf"))
        if keep is not None:
            padded = torch.zeros_like(keep, dtype=x.dtype).masked_fill(keep == 0, lowest)
        return super().forward(
            x, x, x, need_weights=False, attn_mask=mask, key_padding_mask=padded
        )[0]


def padding_mask(tokens: torch.Tensor, pad: int) -> torch.Tensor:
    return (tokens != pad).to(torch.get_default_dtype())


def masked_mean(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Mean over axis 1 of the positions where keep is 1; nothing kept gives 0."""
    weights = keep.to(x.dtype).reshape(*keep.shape, *(1,) * (x.dim() - 2))
    return (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def _attention(node: Node) -> Lowered:
    a = node.attrs
    features = _static_size(node, 2)
    return Lowered(SelfAttention(features, a["heads"], a["dropout"], a["bias"], a["causal"]))


def _window_attention(node: Node) -> Lowered:
    a = node.attrs
    window, shift = _ints(a["window"], 2), _ints(a["shift"], 2)
    return Lowered(WindowAttention(_static_size(node, 3), a["heads"], window, shift))


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of [N, C, H, W] (torchvision's ConvNeXt LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class DropPath(nn.Module):
    """Stochastic depth per sample (torchvision.ops.StochasticDepth, mode "row")."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        return x * mask.bernoulli_(keep).div_(keep)


def _param(node: Node) -> Lowered:
    a = node.attrs
    value = torch.full(tuple(a["shape"]), float(a["value"]))
    if a["std"]:
        value += a["std"] * torch.randn(tuple(a["shape"]))
    return Lowered(nn.Parameter(value))


def _expand_batch(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.expand(like.shape[0], *t.shape[1:])


# Parameterless ops: torch functions with constant arguments.
def _call(target: Callable[..., Any], **keywords: str) -> Lowering:
    """A function whose keyword arguments are node attributes (`keyword="attr"`)."""
    return lambda node: Lowered(target, kwargs={kw: node.attrs[a] for kw, a in keywords.items()})


def _pool(kind: str, n: int) -> Lowering:
    target = {
        ("max", 1): F.max_pool1d,
        ("max", 2): F.max_pool2d,
        ("avg", 1): F.avg_pool1d,
        ("avg", 2): F.avg_pool2d,
    }[kind, n]

    def lower(node: Node) -> Lowered:
        a = node.attrs
        kwargs: dict[str, Any] = {
            "kernel_size": _ints(a["kernel"], n),
            "stride": _ints(a["stride"] if a["stride"] is not None else a["kernel"], n),
            "padding": _ints(a["padding"], n),
            "ceil_mode": a["ceil_mode"],
        }
        if kind == "max":
            kwargs["dilation"] = _ints(a["dilation"], n)
        else:
            kwargs["count_include_pad"] = a["count_include_pad"]
        return Lowered(target, kwargs=kwargs)

    return lower


def _adaptive(n: int) -> Lowering:
    target = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d}[n]
    return lambda node: Lowered(target, (_ints(node.attrs["size"], n),))


def _global(target: Callable[..., Any]) -> Lowering:
    """Reduce every axis after [N, C]."""
    return lambda node: Lowered(target, kwargs={"dim": tuple(range(2, node.input_types[0].rank))})


def _reshape(node: Node) -> Lowered:
    # The IR has resolved any -1 already; the batch axis is the one left to infer, and symbolic
    # sizes are read from the input when it runs.
    out = node.output_types[0].shape
    if all(isinstance(d, int) for d in out[1:]):
        return Lowered(torch.reshape, ((-1, *out[1:]),))
    return Lowered(reshape_sized, (reshape_plan(node.input_types[0].shape, out),))


def reshape_sized(x: torch.Tensor, plan: tuple[tuple[str, int], ...]) -> torch.Tensor:
    """Reshape by a plan of ("size", n), ("axis", k: the input's size there) or ("rest", -1)."""
    return x.reshape([x.shape[v] if kind == "axis" else v for kind, v in plan])


def rdiv(x: torch.Tensor, value: float) -> torch.Tensor:
    return value / x


_SCALAR = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}
_SCALAR_REVERSED = {**_SCALAR, "sub": torch.rsub, "div": rdiv}  # + and * commute


def _scalar(node: Node) -> Lowered:
    a = node.attrs
    table = _SCALAR_REVERSED if a["reverse"] else _SCALAR
    return Lowered(table[a["op"]], (float(a["value"]),))


def _split(node: Node) -> Lowered:
    return Lowered(
        torch.split, (split_sizes(node.input_types[0], node.attrs),), {"dim": node.attrs["axis"]}
    )


def _upsample(node: Node) -> Lowered:
    mode = node.attrs["mode"]
    return Lowered(
        F.interpolate,
        kwargs={
            "scale_factor": float(node.attrs["scale"]),
            "mode": mode,
            "align_corners": False if mode == "bilinear" else None,
        },
    )


LOWERINGS: dict[str, Lowering] = {
    "relu": _call(F.relu),
    "leaky_relu": _call(F.leaky_relu, negative_slope="slope"),
    "elu": _call(F.elu, alpha="alpha"),
    "gelu": _call(F.gelu, approximate="approximate"),
    "sigmoid": _call(torch.sigmoid),
    "tanh": _call(torch.tanh),
    "silu": _call(F.silu),
    "relu6": _call(F.relu6),
    "hardsigmoid": _call(F.hardsigmoid),
    "hardswish": _call(F.hardswish),
    "clamp": _call(torch.clamp, min="min", max="max"),
    "softmax": _call(F.softmax, dim="axis"),
    "log_softmax": _call(F.log_softmax, dim="axis"),
    "conv1d": _conv(1),
    "conv2d": _conv(2),
    "conv_transpose2d": _conv_transpose2d,
    "linear": _linear,
    "embedding": _embedding,
    "add": lambda node: Lowered(operator.add, inputs="fold"),
    "mul": lambda node: Lowered(operator.mul, inputs="fold"),
    "scalar": _scalar,
    "concat": lambda node: Lowered(torch.cat, kwargs={"dim": node.attrs["axis"]}, inputs="list"),
    "split": _split,
    "batchnorm1d": _batchnorm(1),
    "batchnorm2d": _batchnorm(2),
    "layernorm": _layernorm,
    "layernorm2d": lambda node: Lowered(LayerNorm2d(_channels_in(node), eps=node.attrs["eps"])),
    "drop_path": lambda node: Lowered(DropPath(node.attrs["p"])),
    "matmul": lambda node: Lowered(torch.matmul),
    "attention": _attention,
    "window_attention": _window_attention,
    "patch_merging": lambda node: Lowered(PatchMerging(_static_size(node, 3), node.attrs["eps"])),
    "padding_mask": _call(padding_mask, pad="pad"),
    "masked_mean": lambda node: Lowered(masked_mean),
    "param": _param,
    "expand_batch": lambda node: Lowered(_expand_batch),
    "lrn": _lrn,
    "dropout": lambda node: Lowered(nn.Dropout(node.attrs["p"])),
    "maxpool1d": _pool("max", 1),
    "maxpool2d": _pool("max", 2),
    "avgpool1d": _pool("avg", 1),
    "avgpool2d": _pool("avg", 2),
    "adaptive_avgpool1d": _adaptive(1),
    "adaptive_avgpool2d": _adaptive(2),
    "global_avgpool": _global(torch.mean),
    "global_maxpool": _global(torch.amax),
    "flatten": _call(torch.flatten, start_dim="start", end_dim="end"),
    "reshape": _reshape,
    "permute": lambda node: Lowered(torch.permute, (tuple(node.attrs["dims"]),)),
    "select": _call(torch.select, dim="axis", index="index"),
    "upsample": _upsample,
    "cast": lambda node: Lowered(torch.Tensor.to, (getattr(torch, node.attrs["dtype"]),)),
    "lstm": _recurrent(nn.LSTM),
    "gru": _recurrent(nn.GRU),
}


def lower(node: Node) -> Lowered:
    """Lower one node, checking that a module's state matches the IR's parameters and buffers.

    Raises:
        InternalCompilerError: the op has no lowering, or the IR and torch disagree on the
            `state_dict` entries (a bug in the op's `params`/`buffers` rule or here).
    """
    lowering = LOWERINGS.get(node.op)
    if lowering is None:
        raise InternalCompilerError("torch lowering", f"no lowering for op `{node.op}`")
    lowered = lowering(node)
    if isinstance(lowered.target, nn.Parameter):
        if list(node.params.items()) != [("", tuple(lowered.target.shape))]:
            raise InternalCompilerError(
                "torch lowering", f"{node.name}: free tensor differs from the IR's {node.params}"
            )
    elif isinstance(lowered.target, nn.Module):
        _check_state(node, lowered.target)
    elif node.params or node.buffers:
        raise InternalCompilerError(
            "torch lowering",
            f"{node.name}: op `{node.op}` has parameters in the IR but lowers to a function",
        )
    return lowered


def _check_state(node: Node, module: nn.Module) -> None:
    for what, expected, actual in (
        ("parameters", node.params, module.named_parameters()),
        ("buffers", node.buffers, module.named_buffers()),
    ):
        got = [(name, tuple(t.shape)) for name, t in actual]
        if got != list(expected.items()):
            raise InternalCompilerError(
                "torch lowering",
                f"{node.name} ({node.op}): IR {what} {list(expected.items())} "
                f"differ from torch's {got}",
            )
