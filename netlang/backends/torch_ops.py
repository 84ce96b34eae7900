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

from netlang.diagnostics import InternalCompilerError
from netlang.ir import Node
from netlang.ops.merge import split_sizes
from netlang.ops.registry import tuple_of as _ints


@dataclass(frozen=True, slots=True)
class Lowered:
    """One node in torch terms: `target(*inputs, *args, **kwargs)`, then `[take]` if given.

    `target` is an nn.Module (called with the tensor inputs only) or a function. `inputs` says how
    the tensor inputs are passed: "each" positionally, "list" as one list (torch.cat), or "fold"
    pairwise left to right (n-ary add and mul).
    """

    target: nn.Module | Callable[..., Any]
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
    # The IR has resolved any -1 already; the batch axis is the one left to infer.
    return Lowered(torch.reshape, ((-1, *node.output_types[0].shape[1:]),))


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
    "softmax": _call(F.softmax, dim="axis"),
    "log_softmax": _call(F.log_softmax, dim="axis"),
    "conv1d": _conv(1),
    "conv2d": _conv(2),
    "conv_transpose2d": _conv_transpose2d,
    "linear": _linear,
    "embedding": _embedding,
    "add": lambda node: Lowered(operator.add, inputs="fold"),
    "mul": lambda node: Lowered(operator.mul, inputs="fold"),
    "concat": lambda node: Lowered(torch.cat, kwargs={"dim": node.attrs["axis"]}, inputs="list"),
    "split": _split,
    "batchnorm1d": _batchnorm(1),
    "batchnorm2d": _batchnorm(2),
    "layernorm": _layernorm,
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
    if isinstance(lowered.target, nn.Module):
        _check_state(node, lowered.target)
    elif node.params or node.buffers:
        raise InternalCompilerError(
            "torch lowering",
            f"{node.name}: op `{node.op}` has parameters in the IR but lowers to a function",
        )
    return lowered


def _check_state(node: Node, module: nn.Module) -> None:
    for what, expected, actual in (
        ("parameters", node.params, module.named_parameters(recurse=False)),
        ("buffers", node.buffers, module.named_buffers(recurse=False)),
    ):
        got = [(name, tuple(t.shape)) for name, t in actual]
        if got != list(expected.items()):
            raise InternalCompilerError(
                "torch lowering",
                f"{node.name} ({node.op}): IR {what} {list(expected.items())} "
                f"differ from torch's {got}",
            )
