"""Every registry op, lowered alone to ONNX and run by onnxruntime, against torch.nn.functional
(or the torch.nn module, for LSTM/GRU) with the same weights; plus checker and shape inference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.onnx_ops import LOWERINGS
from netlang.semantics.builder import GraphBuilder
from netlang.ir import Graph, TensorType
from netlang.ops import REGISTRY
from netlang.ops.registry import ShapeError

Ref = Callable[..., Any]  # (*inputs, w=local weights as tensors) -> tensor or tuple of tensors
Values = Callable[[list[tuple[int, ...]], np.random.Generator], list[np.ndarray]]


@dataclass
class Case:
    op: str
    inputs: list[tuple[Any, ...]]  # shapes; "N" is the batch, "T" a sequence length
    attrs: dict[str, Any]
    ref: Ref
    dtype: str = "float32"
    id: str = field(default="")
    values: Values | None = None  # inputs of given shapes, where random normals would not do


def lstm_ref(cls: type[torch.nn.RNNBase], **kw: Any) -> Ref:
    def ref(x: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
        module = cls(x.shape[-1], **kw)
        module.load_state_dict(w)
        return module.eval()(x)[0]

    return ref


RNN = dict(hidden=5, layers=2, bidirectional=True, batch_first=True)
TORCH_RNN = dict(hidden_size=5, num_layers=2, bidirectional=True, batch_first=True)

CASES = [
    Case("relu", [("N", 4, 5)], {}, lambda x, w: F.relu(x)),
    Case("leaky_relu", [("N", 4, 5)], {"slope": 0.2}, lambda x, w: F.leaky_relu(x, 0.2)),
    Case("elu", [("N", 4, 5)], {"alpha": 0.7}, lambda x, w: F.elu(x, 0.7)),
    Case("gelu", [("N", 4, 5)], {}, lambda x, w: F.gelu(x)),
    Case(
        "gelu",
        [("N", 4, 5)],
        {"approximate": "tanh"},
        lambda x, w: F.gelu(x, approximate="tanh"),
        id="gelu-tanh",
    ),
    Case("sigmoid", [("N", 4, 5)], {}, lambda x, w: torch.sigmoid(x)),
    Case("tanh", [("N", 4, 5)], {}, lambda x, w: torch.tanh(x)),
    Case("silu", [("N", 4, 5)], {}, lambda x, w: F.silu(x)),
    Case("softmax", [("N", 4, 5)], {"axis": 1}, lambda x, w: F.softmax(x, 1)),
    Case("log_softmax", [("N", 4, 5)], {}, lambda x, w: F.log_softmax(x, -1)),
    Case(
        "conv1d",
        [("N", 3, 10)],
        {"channels": 4, "kernel": 3, "stride": 2, "padding": 1},
        lambda x, w: F.conv1d(x, w["weight"], w["bias"], stride=2, padding=1),
    ),
    Case(
        "conv1d",
        [("N", 3, 10)],
        {"channels": 4, "kernel": 4, "padding": "same", "dilation": 2},
        lambda x, w: F.conv1d(x, w["weight"], w["bias"], padding="same", dilation=2),
        id="conv1d-same-even",
    ),
    Case(
        "conv2d",
        [("N", 3, 9, 9)],
        {"channels": 4, "kernel": 3},
        lambda x, w: F.conv2d(x, w["weight"], w["bias"]),
    ),
    Case(
        "conv2d",
        [("N", 3, 9, 8)],
        {"channels": 4, "kernel": [4, 3], "padding": "same"},
        lambda x, w: F.conv2d(x, w["weight"], w["bias"], padding="same"),
        id="conv2d-same",
    ),
    Case(
        "conv2d",
        [("N", 6, 9, 9)],
        {
            "channels": 6,
            "kernel": 3,
            "stride": 2,
            "dilation": 2,
            "groups": 3,
            "padding": [1, 2],
            "bias": False,
        },
        lambda x, w: F.conv2d(x, w["weight"], None, 2, (1, 2), 2, 3),
        id="conv2d-groups",
    ),
    Case(
        "conv2d",
        [("N", 3, "H", "W")],
        {"channels": 2, "kernel": 3, "padding": "same"},
        lambda x, w: F.conv2d(x, w["weight"], w["bias"], padding="same"),
        id="conv2d-symbolic",
    ),
    Case(
        "conv_transpose2d",
        [("N", 4, 5, 5)],
        {"channels": 6, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1, "groups": 2},
        lambda x, w: F.conv_transpose2d(x, w["weight"], w["bias"], 2, 1, 1, 2),
    ),
    Case("linear", [("N", 6)], {"features": 4}, lambda x, w: F.linear(x, w["weight"], w["bias"])),
    Case(
        "linear",
        [("N", "T", 6)],
        {"features": 4, "bias": False},
        lambda x, w: F.linear(x, w["weight"]),
        id="linear-3d",
    ),
    Case(
        "linear",
        [("N", 5, 6)],
        {"features": 4},
        lambda x, w: F.linear(x, w["weight"], w["bias"]),
        id="linear-3d-bias",
    ),
    Case(
        "embedding",
        [("N", 7)],
        {"num": 10, "dim": 4},
        lambda x, w: F.embedding(x, w["weight"]),
        dtype="int64",
    ),
    Case(
        "cast",
        [("N", 4, 5)],
        {"dtype": "float32"},
        lambda x, w: x.to(torch.float32),
        dtype="int32",
        values=lambda shapes, rng: [rng.integers(-50, 50, s).astype(np.int32) for s in shapes],
    ),
    Case("add", [("N", 3, 4)] * 3, {}, lambda a, b, c, w: a + b + c),
    Case("mul", [("N", 3, 4)] * 2, {}, lambda a, b, w: a * b),
    Case("mul", [("N", 3, 4)] * 3, {}, lambda a, b, c, w: a * b * c, id="mul-3"),
    Case("concat", [("N", 2, 4), ("N", 3, 4)], {}, lambda a, b, w: torch.cat([a, b], 1)),
    Case("split", [("N", 4, 6)], {"parts": 2}, lambda x, w: torch.split(x, 2, 1)),
    Case(
        "split",
        [("N", 4, 6)],
        {"parts": [1, 3, 2], "axis": -1},
        lambda x, w: torch.split(x, [1, 3, 2], -1),
        id="split-sizes",
    ),
    Case(
        "batchnorm1d",
        [("N", 4)],
        {},
        lambda x, w: F.batch_norm(x, w["running_mean"], w["running_var"], w["weight"], w["bias"]),
    ),
    Case(
        "batchnorm1d",
        [("N", 4, 6)],
        {"affine": False, "eps": 1e-3},
        lambda x, w: F.batch_norm(x, w["running_mean"], w["running_var"], eps=1e-3),
        id="batchnorm1d-3d",
    ),
    Case(
        "batchnorm2d",
        [("N", 3, 5, 5)],
        {},
        lambda x, w: F.batch_norm(x, w["running_mean"], w["running_var"], w["weight"], w["bias"]),
    ),
    Case(
        "layernorm", [("N", 5, 6)], {}, lambda x, w: F.layer_norm(x, (6,), w["weight"], w["bias"])
    ),
    Case(
        "layernorm",
        [("N", 5, 6)],
        {"dims": 2, "affine": False},
        lambda x, w: F.layer_norm(x, (5, 6)),
        id="layernorm-2",
    ),
    Case(
        "lrn",
        [("N", 6, 5, 5)],
        {"size": 5, "alpha": 0.1, "k": 2.0},
        lambda x, w: F.local_response_norm(x, 5, 0.1, 0.75, 2.0),
    ),
    Case(
        "lrn",
        [("N", 6, 5, 5)],
        {"size": 4, "alpha": 0.1},
        lambda x, w: F.local_response_norm(x, 4, 0.1),
        id="lrn-even",
    ),
    Case(
        "lrn",
        [("N", 6, 7)],
        {"size": 3, "alpha": 0.1},
        lambda x, w: F.local_response_norm(x, 3, 0.1),
        id="lrn-3d",
    ),
    Case("dropout", [("N", 3, 4)], {"p": 0.3}, lambda x, w: x),
    Case(
        "maxpool1d",
        [("N", 3, 9)],
        {"kernel": 3, "stride": 2, "ceil_mode": True},
        lambda x, w: F.max_pool1d(x, 3, 2, ceil_mode=True),
    ),
    Case("maxpool2d", [("N", 3, 8, 8)], {"kernel": 2}, lambda x, w: F.max_pool2d(x, 2)),
    Case(
        "maxpool2d",
        [("N", 3, 8, 9)],
        {"kernel": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True},
        lambda x, w: F.max_pool2d(x, 3, 2, 1, 2, ceil_mode=True),
        id="maxpool2d-ceil",
    ),
    Case(
        "maxpool2d",
        [("N", 2, 5, 5)],
        {"kernel": 2, "padding": 1, "ceil_mode": True},
        lambda x, w: F.max_pool2d(x, 2, 2, 1, ceil_mode=True),
        id="maxpool2d-ceil-last-window",
    ),
    Case(
        "avgpool2d",
        [("N", 2, 5, 5)],
        {"kernel": 2, "padding": 1, "ceil_mode": True},
        lambda x, w: F.avg_pool2d(x, 2, 2, 1, ceil_mode=True),
        id="avgpool2d-ceil-last-window",
    ),
    Case(
        "maxpool2d",
        [("N", 2, 5, 8)],
        {"kernel": [2, 3], "stride": 2, "padding": 1, "ceil_mode": True},
        lambda x, w: F.max_pool2d(x, (2, 3), 2, 1, ceil_mode=True),
        id="maxpool2d-ceil-mixed",
    ),
    Case(
        "avgpool2d",
        [("N", 2, 5, 8)],
        {
            "kernel": [2, 3],
            "stride": 2,
            "padding": 1,
            "ceil_mode": True,
            "count_include_pad": False,
        },
        lambda x, w: F.avg_pool2d(x, (2, 3), 2, 1, ceil_mode=True, count_include_pad=False),
        id="avgpool2d-ceil-mixed",
    ),
    Case(
        "maxpool2d",
        [("N", 2, "H", "W")],
        {"kernel": 3, "stride": 2, "ceil_mode": True},
        lambda x, w: F.max_pool2d(x, 3, 2, ceil_mode=True),
        id="maxpool2d-ceil-symbolic",
    ),
    Case(
        "avgpool1d",
        [("N", 3, 10)],
        {"kernel": 3, "stride": 2, "padding": 1},
        lambda x, w: F.avg_pool1d(x, 3, 2, 1),
    ),
    Case(
        "avgpool2d",
        [("N", 3, 8, 8)],
        {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        lambda x, w: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
    ),
    Case(
        "avgpool2d",
        [("N", 3, 8, 8)],
        {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
        lambda x, w: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        id="avgpool2d-exclude-pad",
    ),
    Case(
        "adaptive_avgpool1d", [("N", 3, 8)], {"size": 2}, lambda x, w: F.adaptive_avg_pool1d(x, 2)
    ),
    Case(
        "adaptive_avgpool2d",
        [("N", 3, 6, 6)],
        {"size": [3, 2]},
        lambda x, w: F.adaptive_avg_pool2d(x, (3, 2)),
    ),
    Case(
        "adaptive_avgpool2d",
        [("N", 3, 5, 7)],
        {"size": 1},
        lambda x, w: F.adaptive_avg_pool2d(x, 1),
        id="adaptive-global",
    ),
    Case("global_avgpool", [("N", 3, 4, 5)], {}, lambda x, w: x.mean((2, 3))),
    Case("global_maxpool", [("N", 3, 4, 5)], {}, lambda x, w: x.amax((2, 3))),
    Case("flatten", [("N", 3, 4, 5)], {}, lambda x, w: torch.flatten(x, 1)),
    Case(
        "flatten",
        [("N", 3, 4, 5)],
        {"start": 2},
        lambda x, w: torch.flatten(x, 2),
        id="flatten-tail",
    ),
    Case(
        "flatten",
        [("N", 3, 4, 5)],
        {"start": 1, "end": 2},
        lambda x, w: torch.flatten(x, 1, 2),
        id="flatten-middle",
    ),
    Case(
        "reshape", [("N", 3, 4, 5)], {"shape": [4, -1]}, lambda x, w: x.reshape(x.shape[0], 4, -1)
    ),
    Case("permute", [("N", 3, 4, 5)], {"dims": [0, 2, 3, 1]}, lambda x, w: x.permute(0, 2, 3, 1)),
    Case("select", [("N", 5, 4)], {"axis": 1, "index": -1}, lambda x, w: x[:, -1]),
    Case("select", [("N", 5, 4)], {"axis": 2, "index": 1}, lambda x, w: x[:, :, 1], id="select-2"),
    Case("upsample", [("N", 2, 3, 4)], {}, lambda x, w: F.interpolate(x, scale_factor=2)),
    Case(
        "upsample",
        [("N", 2, 3, 4)],
        {"scale": 3, "mode": "bilinear"},
        lambda x, w: F.interpolate(x, scale_factor=3, mode="bilinear"),
        id="upsample-bilinear",
    ),
    Case("lstm", [("N", "T", 4)], RNN, lstm_ref(torch.nn.LSTM, **TORCH_RNN)),
    Case(
        "lstm",
        [("T", "N", 4)],
        {"hidden": 3, "batch_first": False, "bias": False},
        lstm_ref(torch.nn.LSTM, hidden_size=3, bias=False),
        id="lstm-time-major",
    ),
    Case("gru", [("N", "T", 4)], RNN, lstm_ref(torch.nn.GRU, **TORCH_RNN)),
    Case(
        "gru",
        [("T", "N", 4)],
        {"hidden": 3, "batch_first": False},
        lstm_ref(torch.nn.GRU, hidden_size=3),
        id="gru-time-major",
    ),
]


def attention_ref(heads: int, causal: bool) -> Ref:
    """nn.MultiheadAttention; a keep mask's zeros become the float key_padding_mask's lowest
    value (a row with only padding before it then attends evenly, not NaN)."""

    def ref(x: torch.Tensor, *keep: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
        module = torch.nn.MultiheadAttention(x.shape[-1], heads, batch_first=True)
        module.load_state_dict(w)
        steps = x.shape[1]
        mask = torch.ones(steps, steps, dtype=torch.bool).triu(1) if causal else None
        padded = None
        if keep:
            lowest = torch.finfo(torch.float32).min
            padded = torch.zeros(keep[0].shape).masked_fill(keep[0] == 0, lowest)
            mask = None if mask is None else torch.zeros(steps, steps).masked_fill(mask, -np.inf)
        out = module.eval()(x, x, x, need_weights=False, attn_mask=mask, key_padding_mask=padded)
        return out[0]

    return ref


def window_attention_ref(window: int, shift: int) -> Ref:
    """torchvision's own ShiftedWindowAttention (Swin) with the case's weights; the index buffer
    is its own (the test's random weights fill every entry)."""

    def ref(x: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
        from torchvision.models.swin_transformer import ShiftedWindowAttention

        heads = w["relative_position_bias_table"].shape[1]
        module = ShiftedWindowAttention(x.shape[-1], [window] * 2, [shift] * 2, heads)
        module.load_state_dict({**w, "relative_position_index": module.relative_position_index})
        return module.eval()(x)

    return ref


def patch_merging_ref(x: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
    from torchvision.models.swin_transformer import PatchMerging

    module = PatchMerging(x.shape[-1])
    module.load_state_dict(w)
    return module.eval()(x)


def normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def left_padded(shape: tuple[int, ...], least: int) -> np.ndarray:
    """Keep masks [N, T] of 1s after 0s, row n padded n positions (at most T - least)."""
    batch, steps = shape
    pads = np.minimum(np.arange(batch), steps - least)
    return (np.arange(steps)[None] >= pads[:, None]).astype(np.float32)


def masked_mean_ref(
    x: torch.Tensor, keep: torch.Tensor, w: dict[str, torch.Tensor]
) -> torch.Tensor:
    rows = [x[n][keep[n] == 1] for n in range(x.shape[0])]
    return torch.stack([r.mean(0) if len(r) else torch.zeros(x.shape[2:]) for r in rows])


CASES += [
    Case("relu6", [("N", 4, 5)], {}, lambda x, w: F.relu6(x)),
    Case("hardsigmoid", [("N", 4, 5)], {}, lambda x, w: F.hardsigmoid(x)),
    Case("hardswish", [("N", 4, 5)], {}, lambda x, w: F.hardswish(x)),
    Case("clamp", [("N", 4, 5)], {"min": -0.5, "max": 0.2}, lambda x, w: x.clamp(-0.5, 0.2)),
    Case("clamp", [("N", 4)], {"min": 0.1}, lambda x, w: x.clamp(min=0.1), id="clamp-min"),
    Case(
        "mul",
        [("N", 4, 3, 3), ("N", 4, 1, 1)],
        {},
        lambda a, b, w: a * b,
        id="mul-broadcast",
    ),
    Case("add", [("N", 5, 6), (1, 5, 6)], {}, lambda a, b, w: a + b, id="add-broadcast"),
    Case("matmul", [("N", 2, 3, 4), (1, 4, 5)], {}, lambda a, b, w: a @ b),
    Case("scalar", [("N", 4, 5)], {"op": "add", "value": 3}, lambda x, w: x + 3),
    Case("scalar", [("N", 4, 5)], {"op": "mul", "value": 0.5}, lambda x, w: x * 0.5, id="x*0.5"),
    Case("scalar", [("N", 4, 5)], {"op": "div", "value": 6}, lambda x, w: x / 6, id="x/6"),
    Case(
        "scalar",
        [("N", 4, 5)],
        {"op": "sub", "value": 1, "reverse": True},
        lambda x, w: 1 - x,
        id="1-x",
    ),
    Case(
        "scalar",
        [("N", 4, 5)],
        {"op": "div", "value": 2, "reverse": True},
        lambda x, w: 2 / x,
        id="2/x",
    ),
    Case("attention", [("N", "T", 8)], {"heads": 2}, attention_ref(2, False)),
    Case(
        "attention",
        [("N", "T", 6)],
        {"heads": 3, "causal": True},
        attention_ref(3, True),
        id="attention-causal",
    ),
    Case(
        "attention",
        [("N", "T", 8), ("N", "T")],
        {"heads": 2},
        attention_ref(2, False),
        values=lambda shapes, rng: [normal(shapes[0], rng), left_padded(shapes[1], 1)],
        id="attention-padding",
    ),
    Case(
        "attention",
        [("N", "T", 6), ("N", "T")],
        {"heads": 3, "causal": True},
        attention_ref(3, True),
        values=lambda shapes, rng: [normal(shapes[0], rng), left_padded(shapes[1], 0)],
        id="attention-causal-padding",
    ),
    Case(
        "padding_mask",
        [("N", "T")],
        {"pad": 2},
        lambda x, w: (x != 2).float(),
        "int64",
        values=lambda shapes, rng: [rng.integers(0, 4, shapes[0])],
    ),
    Case(
        "masked_mean",
        [("N", "T", 4), ("N", "T")],
        {},
        masked_mean_ref,
        values=lambda shapes, rng: [normal(shapes[0], rng), left_padded(shapes[1], 0)],
    ),
    Case("param", [], {"shape": [1, 3, 4], "std": 1.0}, lambda w: w["layer"]),
    Case("expand_batch", [(1, 1, 4), ("N", 6, 4)], {}, lambda t, x, w: t.expand(x.shape[0], 1, 4)),
    Case(
        "layernorm2d",
        [("N", 3, 4, 5)],
        {},
        lambda x, w: F.layer_norm(
            x.permute(0, 2, 3, 1), (3,), w["weight"], w["bias"], 1e-6
        ).permute(0, 3, 1, 2),
    ),
    Case("drop_path", [("N", 4, 5)], {"p": 0.3}, lambda x, w: x),
    Case(  # padded 9 x 7 -> 12 x 8, rolled and masked on both axes
        "window_attention",
        [("N", 9, 7, 6)],
        {"heads": 2, "window": 4, "shift": 2},
        window_attention_ref(4, 2),
    ),
    Case(  # W padded to one window: no shift there, H still shifted
        "window_attention",
        [("N", 8, 3, 6)],
        {"heads": 3, "window": [4, 4], "shift": [2, 2]},
        window_attention_ref(4, 2),
        id="window_attention-one-window-wide",
    ),
    Case(  # one window covers the map: no shift at all, only padding
        "window_attention",
        [("N", 5, 5, 4)],
        {"heads": 2, "window": 7, "shift": 3},
        window_attention_ref(7, 3),
        id="window_attention-unshifted",
    ),
    Case("patch_merging", [("N", 6, 4, 5)], {}, patch_merging_ref),
    Case("patch_merging", [("N", 5, 7, 3)], {}, patch_merging_ref, id="patch_merging-odd"),
    Case("patch_merging", [("N", "H", "W", 3)], {}, patch_merging_ref, id="patch_merging-symbolic"),
]
SIZES = {"T": 6, "H": 9, "W": 7}
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def one_op_graph(case: Case) -> Graph:
    builder = GraphBuilder(f"{case.op}_case")
    names = [
        builder.input(f"x{i}", TensorType(case.dtype, shape)) for i, shape in enumerate(case.inputs)
    ]
    outputs = builder.apply(case.op, names, case.attrs, "layer")
    return builder.finish({f"y{i}": v for i, v in enumerate(outputs)})


def random_weights(graph: Graph, seed: int = 1) -> dict[str, np.ndarray]:
    """Weights far from their initial values, so that every term of the lowering matters."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in {**graph.parameters(), **graph.buffers()}.items():
        if name.endswith("num_batches_tracked"):
            weights[name] = np.zeros(shape, np.int64)
        elif name.endswith("running_var"):
            weights[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            weights[name] = (rng.standard_normal(shape) * 0.5).astype(np.float32)
    return weights


def concrete(shape: tuple[Any, ...], batch: int) -> tuple[int, ...]:
    return tuple(batch if d == "N" else SIZES[d] if isinstance(d, str) else d for d in shape)


def case_inputs(case: Case, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    if case.values is not None:
        return case.values([concrete(s, batch) for s in case.inputs], rng)
    if case.dtype == "int64":
        return [rng.integers(0, case.attrs["num"], concrete(s, batch)) for s in case.inputs]
    return [rng.standard_normal(concrete(s, batch)).astype(np.float32) for s in case.inputs]


def torch_reference(
    case: Case, xs: list[np.ndarray], weights: dict[str, np.ndarray]
) -> list[np.ndarray]:
    local = {k.removeprefix("layer."): torch.from_numpy(v) for k, v in weights.items()}
    with torch.no_grad():
        out = case.ref(*map(torch.from_numpy, xs), w=local)
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def assert_close(actual: np.ndarray, expected: np.ndarray, tol: float = 1e-4) -> None:
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    assert float(np.abs(actual - expected).max()) <= tol * scale


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def case_id(case: Case) -> str:
    return case.id or case.op


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_op_matches_torch_at_batch_1_and_3_in_one_session(case: Case) -> None:
    graph = one_op_graph(case)
    weights = random_weights(graph)
    model = emit_onnx(graph, weights)
    runner = session(model)
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        xs = case_inputs(case, batch, rng)
        got = runner.run(None, {f"x{i}": x for i, x in enumerate(xs)})
        expected = torch_reference(case, xs, weights)
        assert len(got) == len(expected)
        for actual, reference in zip(got, expected):
            assert_close(actual, reference)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_op_in_fp16_stays_within_1e_2_of_torch_float32(case: Case) -> None:
    graph = one_op_graph(case)
    weights = random_weights(graph)
    model = emit_onnx(graph, weights, fp16=True)
    onnx.checker.check_model(model, full_check=True)
    xs = case_inputs(case, 2, np.random.default_rng(0))
    got = session(model).run(None, {f"x{i}": x for i, x in enumerate(xs)})
    for actual, reference in zip(got, torch_reference(case, xs, weights)):
        assert actual.dtype == np.float32
        assert_close(actual, reference, 1e-2)


def inferred_shapes(model: onnx.ModelProto) -> dict[str, tuple[int | str | None, ...]]:
    """onnx's own strict shape inference, with the declared output shapes removed first."""
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    for output in bare.graph.output:
        output.type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(
        bare, check_type=True, strict_mode=True, data_prop=True
    )
    return {
        v.name: tuple(
            d.dim_value if d.HasField("dim_value") else d.dim_param or None
            for d in v.type.tensor_type.shape.dim
        )
        for v in [*inferred.graph.value_info, *inferred.graph.output]
    }


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_op_passes_full_check_and_shape_inference_agrees_with_ir(case: Case) -> None:
    graph = one_op_graph(case)
    model = emit_onnx(graph, random_weights(graph))
    onnx.checker.check_model(model, full_check=True)
    shapes = inferred_shapes(model)
    for value in graph.outputs:
        onnx_shape = shapes[value.name]
        assert len(onnx_shape) == value.type.rank
        for ir_dim, onnx_dim in zip(value.type.shape, onnx_shape):
            if isinstance(ir_dim, int):
                assert onnx_dim == ir_dim, (value.name, value.type.shape, onnx_shape)
            else:  # symbolic in the IR: onnx must not claim a fixed size
                assert not isinstance(onnx_dim, int)


def test_every_registry_op_has_a_lowering_and_a_case() -> None:
    assert set(LOWERINGS) == set(REGISTRY)
    assert {case.op for case in CASES} == set(REGISTRY)


def test_window_attention_at_symbolic_sizes_is_nl4001_from_check() -> None:
    """Its windows, mask and shift depend on H and W: the graph needs them fixed, so `check`
    refuses what `compile` could not lower."""
    with pytest.raises(ShapeError) as error:
        one_op_graph(Case("window_attention", [("N", "H", "W", 4)], {"heads": 2}, lambda x, w: x))
    assert error.value.code == "NL4001"
    assert "fixed H and W" in error.value.message
