"""Every op's torch lowering, one node at a time, against an independent computation.

Each case builds a one-node graph with GraphBuilder, lowers it with `to_torch`, runs it on random
inputs and compares with a reference written from torch.nn.functional or the op's formula, using
the lowered module's own weights. The torch output shapes must also equal the IR's inferred ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from netlang.backends.torch_module import to_torch  # noqa: E402
from netlang.backends.torch_ops import LOWERINGS, lower  # noqa: E402
from netlang.diagnostics import InternalCompilerError  # noqa: E402
from netlang.semantics.builder import GraphBuilder  # noqa: E402
from netlang.ir import Graph, Node, TensorType  # noqa: E402
from netlang.ops import REGISTRY  # noqa: E402

Tensor = Any
Reference = Callable[[dict[str, Tensor], list[Tensor]], Tensor | Sequence[Tensor]]
BATCH = 2


def one_node(
    op: str, attrs: dict[str, Any], *shapes: tuple[Any, ...], dtype: str = "float32"
) -> Graph:
    builder = GraphBuilder("single")
    names = [builder.input(f"x{i}", TensorType(dtype, shape)) for i, shape in enumerate(shapes)]
    outputs = builder.apply(op, names, attrs, "layer")
    return builder.finish({f"y{i}": value for i, value in enumerate(outputs)})


def concrete(shape: tuple[Any, ...]) -> tuple[int, ...]:
    return tuple(BATCH if d == "N" else d for d in shape)


def random_inputs(graph: Graph) -> list[Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [
        torch.randint(0, 10, concrete(v.type.shape), generator=generator)
        if v.type.dtype.startswith("int")
        else torch.randn(concrete(v.type.shape), generator=generator)
        for v in graph.inputs
    ]


def randomize(module: Any) -> dict[str, Tensor]:
    """Non-trivial weights (batchnorm's ones and zeros would hide mistakes); returns the state."""
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                values = torch.randn(tensor.shape, generator=generator)
                tensor.copy_(values.abs() + 0.5 if name.endswith("running_var") else values)
    return {name.removeprefix("layer."): t.clone() for name, t in module.state_dict().items()}


def outputs_of(result: Tensor | tuple[Tensor, ...]) -> list[Tensor]:
    return list(result) if isinstance(result, tuple) else [result]


def check(graph: Graph, reference: Reference, *, train: bool = False, atol: float = 1e-5) -> None:
    """Run the lowered graph; compare values with `reference`, shapes and state with the IR."""
    module = to_torch(graph, seed=0)
    state = randomize(module)
    module.train(train)
    xs = random_inputs(graph)
    got = outputs_of(module(*xs))
    expected = reference(state, [x.clone() for x in xs])
    expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
    assert [tuple(t.shape) for t in got] == [concrete(v.type.shape) for v in graph.outputs]
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == {
        **graph.parameters(),
        **graph.buffers(),
    }
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=atol, rtol=1e-4)


def test_every_registry_op_has_a_lowering() -> None:
    assert set(LOWERINGS) == set(REGISTRY)


def test_ir_and_torch_disagreeing_on_parameters_is_an_internal_error() -> None:
    node = one_node("linear", {"features": 4}, ("N", 3)).nodes[0]
    broken = Node(
        node.name,
        node.op,
        node.inputs,
        node.outputs,
        node.attrs,
        node.input_types,
        node.output_types,
        params={"weight": (4, 3)},
    )  # bias missing
    with pytest.raises(InternalCompilerError, match="parameters"):
        lower(broken)


# Activations, from their formulas.
def _gelu_tanh(x: Tensor) -> Tensor:
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


ACTIVATIONS = [
    ("relu", {}, lambda x: torch.where(x > 0, x, 0.0)),
    ("leaky_relu", {"slope": 0.2}, lambda x: torch.where(x > 0, x, 0.2 * x)),
    ("elu", {"alpha": 0.5}, lambda x: torch.where(x > 0, x, 0.5 * (torch.exp(x) - 1))),
    ("gelu", {}, lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))),
    ("gelu", {"approximate": "tanh"}, _gelu_tanh),
    ("sigmoid", {}, lambda x: 1 / (1 + torch.exp(-x))),
    ("tanh", {}, lambda x: (torch.exp(2 * x) - 1) / (torch.exp(2 * x) + 1)),
    ("silu", {}, lambda x: x / (1 + torch.exp(-x))),
    ("softmax", {"axis": 1}, lambda x: torch.exp(x) / torch.exp(x).sum(1, keepdim=True)),
    ("log_softmax", {}, lambda x: x - torch.log(torch.exp(x).sum(-1, keepdim=True))),
]


@pytest.mark.parametrize(
    ("op", "attrs", "formula"), ACTIVATIONS, ids=[f"{op}-{attrs}" for op, attrs, _ in ACTIVATIONS]
)
def test_activation_matches_its_formula(op: str, attrs: dict[str, Any], formula: Callable) -> None:
    check(one_node(op, attrs, ("N", 3, 5)), lambda w, xs: formula(xs[0]))


# Convolutions, against F.conv* with hand-computed padding.
CONVOLUTIONS = [
    (
        "conv2d",
        {"channels": 4, "kernel": 3, "padding": "same", "dilation": 2, "groups": 2},
        (4, 9, 9),
        lambda w, x: F.conv2d(F.pad(x, (2, 2, 2, 2)), w["weight"], w["bias"], dilation=2, groups=2),
    ),
    (
        "conv2d",
        {"channels": 2, "kernel": 4, "padding": "same"},  # odd total: extra low/high 1/2
        (3, 7, 6),
        lambda w, x: F.conv2d(F.pad(x, (1, 2, 1, 2)), w["weight"], w["bias"]),
    ),
    (
        "conv2d",
        {"channels": 6, "kernel": [3, 5], "stride": 2, "padding": [1, 2], "bias": False},
        (3, 11, 10),
        lambda w, x: F.conv2d(x, w["weight"], None, stride=2, padding=(1, 2)),
    ),
    (
        "conv2d",
        {"channels": 3, "kernel": 3, "padding": "valid"},
        (2, 6, 6),
        lambda w, x: F.conv2d(x, w["weight"], w["bias"]),
    ),
    (
        "conv1d",
        {"channels": 5, "kernel": 3, "stride": 2, "padding": 1},
        (3, 12),
        lambda w, x: F.conv1d(x, w["weight"], w["bias"], stride=2, padding=1),
    ),
    (
        "conv1d",
        {"channels": 4, "kernel": 3, "padding": "same", "dilation": 3, "groups": 2},
        (2, 10),
        lambda w, x: F.conv1d(F.pad(x, (3, 3)), w["weight"], w["bias"], dilation=3, groups=2),
    ),
    (
        "conv_transpose2d",
        {"channels": 4, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1, "groups": 2},
        (2, 5, 6),
        lambda w, x: F.conv_transpose2d(
            x, w["weight"], w["bias"], stride=2, padding=1, output_padding=1, groups=2
        ),
    ),
    (
        "conv_transpose2d",
        {"channels": 3, "kernel": [2, 3], "stride": [2, 1], "dilation": 2},
        (4, 4, 5),
        lambda w, x: F.conv_transpose2d(x, w["weight"], w["bias"], stride=(2, 1), dilation=2),
    ),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(
    ("op", "attrs", "shape", "reference"),
    CONVOLUTIONS,
    ids=[f"{op}-{i}" for i, (op, *_) in enumerate(CONVOLUTIONS)],
)
def test_convolution_matches_functional(
    op: str, attrs: dict[str, Any], shape: tuple[int, ...], reference: Callable
) -> None:
    check(one_node(op, attrs, ("N", *shape)), lambda w, xs: reference(w, xs[0]))


def test_conv_transpose_output_padding_not_below_stride_is_rejected_by_the_ir() -> None:
    from netlang.ops import ShapeError

    with pytest.raises(ShapeError):
        one_node(
            "conv_transpose2d",
            {"channels": 2, "kernel": 3, "stride": 2, "output_padding": 2},
            ("N", 2, 4, 4),
        )


def test_linear_matches_affine_map_on_2d_and_3d_inputs() -> None:
    check(
        one_node("linear", {"features": 4}, ("N", 6)),
        lambda w, xs: xs[0] @ w["weight"].T + w["bias"],
    )
    check(
        one_node("linear", {"features": 3, "bias": False}, ("N", 5, 6)),
        lambda w, xs: xs[0] @ w["weight"].T,
    )


def test_embedding_looks_up_rows_and_keeps_padding_row_zero() -> None:
    graph = one_node("embedding", {"num": 10, "dim": 4, "padding_idx": 0}, ("N", 7), dtype="int64")
    assert torch.all(to_torch(graph, init="normal").state_dict()["layer.weight"][0] == 0)
    check(graph, lambda w, xs: w["weight"][xs[0]])


# Fan-in and fan-out.
def test_add_sums_all_inputs() -> None:
    check(
        one_node("add", {}, ("N", 3, 4), ("N", 3, 4), ("N", 3, 4)),
        lambda w, xs: xs[0] + xs[1] + xs[2],
    )


def test_mul_multiplies_inputs() -> None:
    check(one_node("mul", {}, ("N", 5), ("N", 5)), lambda w, xs: xs[0] * xs[1])


@pytest.mark.parametrize("axis", [1, -1])
def test_concat_joins_along_axis(axis: int) -> None:
    other = ("N", 2, 5) if axis == -1 else ("N", 4, 3)
    check(
        one_node("concat", {"axis": axis}, ("N", 2, 3), other),
        lambda w, xs: torch.cat(xs, dim=axis),
    )


@pytest.mark.parametrize(("parts", "axis", "bounds"), [(2, 1, [0, 2, 4]), ([1, 3], -1, [0, 1, 4])])
def test_split_cuts_into_parts(parts: Any, axis: int, bounds: list[int]) -> None:
    def reference(w: dict, xs: list[Tensor]) -> list[Tensor]:
        x = xs[0] if axis == 1 else xs[0].transpose(1, -1)
        pieces = [x[:, lo:hi] for lo, hi in zip(bounds, bounds[1:])]
        return pieces if axis == 1 else [p.transpose(1, -1) for p in pieces]

    check(one_node("split", {"parts": parts, "axis": axis}, ("N", 4, 3, 4)), reference)


# Normalisation and dropout.
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize(
    ("op", "shape"), [("batchnorm1d", (3,)), ("batchnorm1d", (3, 5)), ("batchnorm2d", (3, 4, 4))]
)
def test_batchnorm_matches_functional(op: str, shape: tuple[int, ...], train: bool) -> None:
    graph = one_node(op, {"eps": 1e-3, "momentum": 0.2}, ("N", *shape))
    module = to_torch(graph)
    state = randomize(module)
    module.train(train)
    x = torch.randn(concrete(("N", *shape)))
    mean, var = state["running_mean"].clone(), state["running_var"].clone()
    expected = F.batch_norm(
        x, mean, var, state["weight"], state["bias"], training=train, momentum=0.2, eps=1e-3
    )
    torch.testing.assert_close(module(x), expected)
    torch.testing.assert_close(module.state_dict()["layer.running_mean"], mean)  # updated alike
    torch.testing.assert_close(module.state_dict()["layer.running_var"], var)


def test_batchnorm_without_affine_has_buffers_only() -> None:
    check(
        one_node("batchnorm2d", {"affine": False}, ("N", 2, 3, 3)),
        lambda w, xs: F.batch_norm(xs[0], w["running_mean"], w["running_var"], eps=1e-5),
    )


def test_layernorm_normalises_last_dims() -> None:
    def reference(w: dict, xs: list[Tensor]) -> Tensor:
        x = xs[0]
        mean = x.mean((-2, -1), keepdim=True)
        var = x.var((-2, -1), unbiased=False, keepdim=True)
        return (x - mean) / torch.sqrt(var + 1e-6) * w["weight"] + w["bias"]

    check(one_node("layernorm", {"dims": 2, "eps": 1e-6}, ("N", 3, 4, 5)), reference)


def test_lrn_matches_the_alexnet_formula() -> None:
    size, alpha, beta, k = 3, 1e-2, 0.75, 2.0

    def reference(w: dict, xs: list[Tensor]) -> Tensor:
        x = xs[0]
        channels = x.shape[1]
        out = torch.empty_like(x)
        for c in range(channels):  # window c - size//2 .. c + (size-1)//2, zero beyond the ends
            lo, hi = max(0, c - size // 2), min(channels, c + (size - 1) // 2 + 1)
            scale = k + alpha / size * (x[:, lo:hi] ** 2).sum(1)
            out[:, c] = x[:, c] / scale**beta
        return out

    check(
        one_node("lrn", {"size": size, "alpha": alpha, "beta": beta, "k": k}, ("N", 6, 3, 3)),
        reference,
    )


def test_dropout_is_identity_in_eval_and_random_mask_in_train() -> None:
    module = to_torch(one_node("dropout", {"p": 0.25}, ("N", 4000)))
    x = torch.randn(BATCH, 4000)
    module.eval()
    assert torch.equal(module(x), x)
    module.train()
    torch.manual_seed(3)
    got = module(x)
    torch.manual_seed(3)
    torch.testing.assert_close(got, F.dropout(x, 0.25, training=True))
    assert 0.2 < (got == 0).float().mean().item() < 0.3


# Pooling.
POOLS = [
    (
        "maxpool2d",
        {"kernel": 3, "stride": 2, "ceil_mode": True},
        (2, 8, 7),
        lambda x: F.max_pool2d(x, 3, 2, ceil_mode=True),
    ),
    (
        "maxpool2d",
        {"kernel": [3, 2], "padding": [1, 0], "dilation": [2, 1]},
        (2, 9, 8),
        lambda x: F.max_pool2d(x, (3, 2), (3, 2), padding=(1, 0), dilation=(2, 1)),
    ),
    (
        "maxpool1d",
        {"kernel": 2, "stride": 2, "ceil_mode": True},
        (3, 7),
        lambda x: F.max_pool1d(x, 2, 2, ceil_mode=True),
    ),
    (
        "avgpool2d",
        {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
        (2, 8, 8),
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    ),
    ("avgpool2d", {"kernel": 2}, (2, 6, 5), lambda x: F.avg_pool2d(x, 2)),
    (
        "avgpool2d",
        {"kernel": [2, 3], "stride": 2, "padding": 1, "ceil_mode": True},
        (2, 5, 8),
        lambda x: F.avg_pool2d(x, (2, 3), 2, 1, ceil_mode=True),
    ),
    (
        "avgpool1d",
        {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        (2, 10),
        lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True),
    ),
    (
        "adaptive_avgpool2d",
        {"size": [2, 3]},
        (2, 4, 6),  # divides evenly: plain 2x2 blocks
        lambda x: x.reshape(BATCH, 2, 2, 2, 3, 2).mean((3, 5)),
    ),
    ("adaptive_avgpool2d", {"size": 3}, (2, 7, 5), lambda x: F.adaptive_avg_pool2d(x, 3)),
    ("adaptive_avgpool1d", {"size": 4}, (3, 9), lambda x: F.adaptive_avg_pool1d(x, 4)),
    ("global_avgpool", {}, (3, 4, 5), lambda x: x.mean((2, 3))),
    ("global_avgpool", {}, (3, 4), lambda x: x.mean(2)),
    ("global_avgpool", {}, (2, 3, 4, 2), lambda x: x.flatten(2).mean(2)),
    ("global_maxpool", {}, (3, 4, 5), lambda x: x.flatten(2).max(2).values),
]


@pytest.mark.parametrize(
    ("op", "attrs", "shape", "reference"),
    POOLS,
    ids=[f"{op}-{i}" for i, (op, *_) in enumerate(POOLS)],
)
def test_pooling_matches_functional(
    op: str, attrs: dict[str, Any], shape: tuple[int, ...], reference: Callable
) -> None:
    check(one_node(op, attrs, ("N", *shape)), lambda w, xs: reference(xs[0]))


# Layout.
LAYOUTS = [
    ("flatten", {}, (3, 4, 5), lambda x: x.reshape(BATCH, -1)),
    ("flatten", {"start": 1, "end": 2}, (3, 4, 5), lambda x: x.reshape(BATCH, 12, 5)),
    ("reshape", {"shape": [4, -1]}, (3, 4, 2), lambda x: x.reshape(BATCH, 4, 6)),
    ("permute", {"dims": [0, 2, 3, 1]}, (3, 4, 5), lambda x: x.permute(0, 2, 3, 1)),
    ("select", {"axis": 1, "index": -1}, (3, 4), lambda x: x[:, -1]),
    ("select", {"axis": -1, "index": 2}, (3, 4), lambda x: x[:, :, 2]),
    (
        "upsample",
        {"scale": 2},
        (2, 3, 4),
        lambda x: x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3),
    ),
    (
        "upsample",
        {"scale": 3, "mode": "bilinear"},
        (2, 3, 4),
        lambda x: F.interpolate(x, scale_factor=3, mode="bilinear", align_corners=False),
    ),
]


@pytest.mark.parametrize(
    ("op", "attrs", "shape", "reference"),
    LAYOUTS,
    ids=[f"{op}-{i}" for i, (op, *_) in enumerate(LAYOUTS)],
)
def test_layout_op_matches_tensor_method(
    op: str, attrs: dict[str, Any], shape: tuple[int, ...], reference: Callable
) -> None:
    check(one_node(op, attrs, ("N", *shape)), lambda w, xs: reference(xs[0]))


def test_bilinear_upsample_of_a_ramp_interpolates_between_pixels() -> None:
    x = torch.tensor([[[[0.0, 4.0]]]])  # half-pixel centres: 0, 0, 1, 3, 4, 4
    module = to_torch(one_node("upsample", {"scale": 3, "mode": "bilinear"}, ("N", 1, 1, 2)))
    torch.testing.assert_close(module(x)[0, 0, 0], torch.tensor([0.0, 0.0, 4 / 3, 8 / 3, 4.0, 4.0]))


# Recurrent layers, against the textbook cell equations.
def _lstm_cell(gates: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _gru_step(gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    (ir, iz, in_), (hr, hz, hn) = gi.chunk(3, dim=1), gh.chunk(3, dim=1)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    return (1 - z) * torch.tanh(in_ + r * hn) + z * h


def recurrent_reference(
    kind: str, w: dict[str, Tensor], x: Tensor, layers: int, directions: int, hidden: int
) -> Tensor:
    """Unrolled multi-layer (bi)directional LSTM/GRU on [N, T, F]."""
    steps = x.shape[1]
    for layer in range(layers):
        sequences = []
        for suffix in ("", "_reverse")[:directions]:
            w_ih, w_hh = w[f"weight_ih_l{layer}{suffix}"], w[f"weight_hh_l{layer}{suffix}"]
            b_ih, b_hh = w[f"bias_ih_l{layer}{suffix}"], w[f"bias_hh_l{layer}{suffix}"]
            h = c = torch.zeros(x.shape[0], hidden)
            out = [torch.empty(0)] * steps
            for t in range(steps) if not suffix else reversed(range(steps)):
                gi, gh = x[:, t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
                if kind == "lstm":
                    h, c = _lstm_cell(gi + gh, h, c)
                else:
                    h = _gru_step(gi, gh, h)
                out[t] = h
            sequences.append(torch.stack(out, dim=1))
        x = torch.cat(sequences, dim=-1)
    return x


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bidirectional_two_layer_recurrent_matches_cell_equations(kind: str) -> None:
    graph = one_node(kind, {"hidden": 4, "layers": 2, "bidirectional": True}, ("N", 5, 3))
    check(graph, lambda w, xs: recurrent_reference(kind, w, xs[0], 2, 2, 4))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_time_major_recurrent_matches_cell_equations(kind: str) -> None:
    graph = one_node(kind, {"hidden": 3, "batch_first": False}, (6, "N", 2))
    check(
        graph,
        lambda w, xs: recurrent_reference(kind, w, xs[0].transpose(0, 1), 1, 1, 3).transpose(0, 1),
    )
