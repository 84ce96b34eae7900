"""Weight-init schemes of the torch backend, checked statistically against their definitions."""

from __future__ import annotations

import math
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from netlang.backends.torch_module import to_torch  # noqa: E402
from netlang.semantics.builder import GraphBuilder  # noqa: E402
from netlang.ir import Graph, TensorType  # noqa: E402


def graph_of(
    *layers: tuple[str, dict[str, Any]], shape: tuple[Any, ...] = ("N", 64, 8, 8)
) -> Graph:
    """A chain of layers named l0, l1, ... on one input."""
    b = GraphBuilder("chain")
    x = b.input("x", TensorType("float32", shape))
    for i, (op, attrs) in enumerate(layers):
        (x,) = b.apply(op, [x], attrs, f"l{i}")
    return b.finish({"y": x})


def weights(graph: Graph, **options: Any) -> dict[str, Any]:
    return to_torch(graph, seed=0, **options).state_dict()


def assert_std(tensor: Any, expected: float) -> None:
    assert abs(tensor.std().item() - expected) < 0.05 * expected
    assert abs(tensor.mean().item()) < 0.05 * expected


def test_kaiming_conv_uses_fan_out_and_zero_bias() -> None:
    state = weights(graph_of(("conv2d", {"channels": 128, "kernel": 3, "init": "kaiming"})))
    assert_std(state["l0.weight"], math.sqrt(2 / (128 * 3 * 3)))
    assert torch.all(state["l0.bias"] == 0)


def test_kaiming_linear_uses_fan_in() -> None:
    state = weights(graph_of(("linear", {"features": 256, "init": "kaiming"}), shape=("N", 512)))
    assert_std(state["l0.weight"], math.sqrt(2 / 512))
    assert torch.all(state["l0.bias"] == 0)


def test_xavier_is_uniform_within_the_glorot_bound() -> None:
    state = weights(graph_of(("linear", {"features": 300, "init": "xavier"}), shape=("N", 200)))
    bound = math.sqrt(6 / (200 + 300))
    assert state["l0.weight"].abs().max().item() <= bound
    assert_std(state["l0.weight"], bound / math.sqrt(3))


def test_normal_has_std_one_hundredth() -> None:
    state = weights(
        graph_of(("conv1d", {"channels": 64, "kernel": 5, "init": "normal"}), shape=("N", 64, 9))
    )
    assert_std(state["l0.weight"], 0.01)
    assert torch.all(state["l0.bias"] == 0)


def test_zeros_zeroes_weights_and_biases() -> None:
    state = weights(graph_of(("conv_transpose2d", {"channels": 8, "kernel": 2, "init": "zeros"})))
    assert all(torch.all(t == 0) for t in state.values())


def test_recurrent_weights_take_the_scheme_and_biases_are_zero() -> None:
    state = weights(
        graph_of(
            ("gru", {"hidden": 32, "layers": 2, "bidirectional": True, "init": "xavier"}),
            shape=("N", 5, 16),
        )
    )
    for name, tensor in state.items():
        if name.startswith("l0.bias"):
            assert torch.all(tensor == 0), name
        else:
            rows, cols = tensor.shape
            assert tensor.abs().max().item() <= math.sqrt(6 / (rows + cols)), name


def test_model_init_applies_only_to_layers_left_at_default() -> None:
    graph = graph_of(
        ("linear", {"features": 256}),
        ("linear", {"features": 256, "init": "zeros"}),
        shape=("N", 256),
    )
    state = weights(graph, init="normal")
    assert_std(state["l0.weight"], 0.01)
    assert torch.all(state["l1.weight"] == 0)


def test_normalisation_layers_keep_weight_one_bias_zero_under_a_model_init() -> None:
    graph = graph_of(("batchnorm2d", {}), ("layernorm", {"dims": 2}), shape=("N", 4, 3, 3))
    state = weights(graph, init="normal")
    for name in ("l0", "l1"):
        assert torch.all(state[f"{name}.weight"] == 1) and torch.all(state[f"{name}.bias"] == 0)


def test_default_keeps_torch_initialisation() -> None:
    graph = graph_of(("conv2d", {"channels": 8, "kernel": 3}), shape=("N", 3, 8, 8))
    torch.manual_seed(11)
    reference = torch.nn.Conv2d(3, 8, 3)
    state = to_torch(graph, seed=11).state_dict()
    assert torch.equal(state["l0.weight"], reference.weight)
    assert torch.equal(state["l0.bias"], reference.bias)


def test_unknown_model_init_is_rejected() -> None:
    with pytest.raises(ValueError, match="init scheme"):
        to_torch(graph_of(("relu", {})), init="orthogonal")
