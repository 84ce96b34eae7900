"""Torch-free initial weights: same names, shapes and dtypes as the torch module's state_dict, and
the same distributions as torch's initialisers (compared by their statistics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from netlang.backends.torch_module import to_torch
from netlang.backends import weights
from netlang.backends.weights import init_weights
from netlang.semantics.builder import GraphBuilder
from netlang.ir import Graph, TensorType


def zoo() -> Graph:
    """One of each parameterised op family, large enough for stable statistics (the position
    index of window attention is a constant, equal in both)."""
    b = GraphBuilder("Zoo")
    image = b.input("image", TensorType("float32", ("N", 8, 12, 12)))
    tokens = b.input("tokens", TensorType("int64", ("N", "T")))
    (x,) = b.apply("conv2d", [image], {"channels": 32, "kernel": 3}, "conv")
    (x,) = b.apply("batchnorm2d", [x], {}, "bn")
    (s,) = b.apply("permute", [x], {"dims": [0, 2, 3, 1]}, "channels_last")
    (s,) = b.apply("window_attention", [s], {"heads": 4, "window": 4, "shift": 2}, "swin")
    (s,) = b.apply("patch_merging", [s], {}, "merge")
    (x,) = b.apply("conv_transpose2d", [x], {"channels": 16, "kernel": 3}, "up")
    (x,) = b.apply("global_avgpool", [x], {}, "pool")
    (x,) = b.apply("linear", [x], {"features": 200}, "fc")
    (x,) = b.apply("layernorm", [x], {}, "ln")
    (e,) = b.apply("embedding", [tokens], {"num": 100, "dim": 24, "padding_idx": 0}, "embed")
    (e,) = b.apply("lstm", [e], {"hidden": 32}, "lstm")
    (e,) = b.apply("gru", [e], {"hidden": 32, "bidirectional": True}, "gru")
    (e,) = b.apply("attention", [e], {"heads": 4}, "mha")
    (n,) = b.apply("layernorm2d", [image], {}, "ln2d")
    (t,) = b.apply("param", [], {"shape": [1, 300], "value": 0.1, "std": 0.5}, "extra.token")
    return b.finish({"x": x, "e": e, "s": s, "n": n, "t": t})


def test_names_shapes_and_dtypes_equal_the_torch_state_dict() -> None:
    graph = zoo()
    ours = init_weights(graph)
    theirs = to_torch(graph).state_dict()
    assert list(ours) == list(theirs)
    for name, tensor in theirs.items():
        assert ours[name].shape == tuple(tensor.shape), name
        assert ours[name].dtype == tensor.numpy().dtype, name


@pytest.mark.parametrize("scheme", [None, "kaiming", "xavier", "normal", "zeros"])
def test_distributions_match_torch_initialisers(scheme: str | None) -> None:
    graph = zoo()
    ours = init_weights(graph, seed=1, init=scheme)
    theirs = {k: v.numpy() for k, v in to_torch(graph, init=scheme, seed=1).state_dict().items()}
    for name, reference in theirs.items():
        mine = ours[name].astype(np.float64)
        if reference.std() == 0:  # constants: zeros, ones, padding rows
            np.testing.assert_array_equal(ours[name], reference, err_msg=name)
            continue
        assert np.abs(mine).max() <= np.abs(reference).max() * 1.5, name
        if reference.size >= 100:  # five standard errors of the difference of two samples
            error = 5 * np.sqrt(2 / reference.size)
            assert abs(mine.mean() - reference.mean()) < error * reference.std(), name
            assert abs(mine.std() / reference.std() - 1) < error, name


def test_seed_makes_weights_reproducible() -> None:
    graph = zoo()
    first, again, other = init_weights(graph, 4), init_weights(graph, 4), init_weights(graph, 5)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["conv.weight"], other["conv.weight"])


def test_padding_token_vector_is_zero() -> None:
    assert not init_weights(zoo())["embed.weight"][0].any()
    assert torch.count_nonzero(to_torch(zoo()).state_dict()["embed.weight"][0]) == 0


def test_undrawn_weights_read_in_any_order_equal_one_whole_array_draw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """plan_weights' tensors, drawn in tiny pieces (the padding row spans three) and read back
    to front and twice, hold init_weights' values; the first one is a plain whole-array draw."""
    graph = zoo()
    expected = init_weights(graph, seed=7)
    monkeypatch.setattr(weights, "PIECE", 10)
    monkeypatch.setattr(weights, "CHUNK", 4)
    plan = weights.plan_weights(graph, seed=7)
    assert isinstance(plan["conv.weight"], weights.Drawn)
    names = list(plan)[::-1]
    for name in names + names[:3]:
        np.testing.assert_array_equal(np.asarray(plan[name]), expected[name], err_msg=name)
    bound = 1 / math.sqrt(8 * 3 * 3)  # a Python float, as the library computes it
    whole = np.random.default_rng(7).random(32 * 8 * 3 * 3, dtype=np.float32)
    whole *= 2 * bound
    whole -= bound
    np.testing.assert_array_equal(expected["conv.weight"].reshape(-1), whole)
    assert not expected["embed.weight"][0].any() and expected["embed.weight"][1].all()


@pytest.mark.parametrize(
    "name, module",
    [
        ("conv", torch.nn.Conv2d(8, 32, 3)),
        ("up", torch.nn.ConvTranspose2d(32, 16, 3)),
        ("fc", torch.nn.Linear(16, 200)),
    ],
)
def test_default_init_is_torchs_uniform_bound_and_variance(
    name: str, module: torch.nn.Module
) -> None:
    """Conv/Linear weights and biases lie in [-b, b) with b = 1/sqrt(fan_in), spread over it
    with variance b^2/3, as torch's own reset_parameters draws the same shapes."""
    ours = init_weights(zoo(), seed=3)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(module.weight)
    bound = 1 / math.sqrt(fan_in)
    for part in ("weight", "bias"):
        theirs = getattr(module, part).detach().numpy().astype(np.float64)
        mine = ours[f"{name}.{part}"].astype(np.float64)
        assert mine.shape == theirs.shape
        for values in (mine, theirs):
            assert -bound <= values.min() and values.max() < bound, part
            assert values.max() - values.min() > 2 * bound * (1 - 20 / values.size), part
            if values.size >= 1000:  # five standard errors of a uniform sample's variance
                assert abs(values.var() / (bound**2 / 3) - 1) < 5 * math.sqrt(0.8 / values.size)


def test_uniform_draws_continue_numpys_float32_stream_across_odd_sizes_and_laws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Uniform tensors are drawn from the bit generator's raw words in bulk; the values are
    numpy's own Generator.random(float32) ones, whatever the chunking, also when an odd-sized
    tensor leaves half a word to the next one (uniform or normal)."""
    monkeypatch.setattr(weights, "CHUNK", 4)
    monkeypatch.setattr(weights, "PIECE", 12)
    stream = weights.Stream(11)
    laws = [("uniform", 5, 2.0, -1.0), ("normal", 7, 0.5, 0.0), ("uniform", 3, 0.2, -0.1)]
    laws += [("uniform", 29, 1.0, 0.0), ("uniform", 1, 4.0, -2.0), ("normal", 3, 1.0, 0.0)]
    planned = [
        stream.add((size,), law, scale, shift, zero_row=None) for law, size, scale, shift in laws
    ]
    reference = np.random.default_rng(11)
    for drawn, (law, size, scale, shift) in zip(planned, laws):
        if law == "uniform":
            expected = reference.random(size, dtype=np.float32)
        else:
            expected = reference.standard_normal(size, dtype=np.float32)
        expected *= scale
        expected += shift
        np.testing.assert_array_equal(np.asarray(drawn), expected, err_msg=f"{law} {size}")


def test_a_streams_pieces_share_its_ring_and_stay_valid_for_ring_minus_one_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """All the tensors of a stream are drawn into the same RING buffers (made once, not per
    tensor: fresh memory costs page faults), and a piece is intact until RING - 1 more pieces
    have been drawn, across tensor boundaries too (what the writer's thread relies on)."""
    monkeypatch.setattr(weights, "CHUNK", 4)
    monkeypatch.setattr(weights, "PIECE", 8)
    stream = weights.Stream(5)
    tensors = [stream.add((size,), "uniform", 1.0, 0.0, zero_row=None) for size in (13, 8, 3, 21)]
    expected = [np.asarray(t) for t in tensors]  # drawn once: the stream keeps their states
    drawn, recent, buffers = [], [], set()
    for tensor in tensors:
        for piece in tensor.pieces():
            buffers.add(piece.base.__array_interface__["data"][0])
            recent.append((piece, piece.copy()))
            if len(recent) == weights.RING:  # the oldest has lived through RING - 1 more
                oldest, copy = recent.pop(0)
                np.testing.assert_array_equal(oldest, copy)
            drawn.append(piece.copy())
    assert len(buffers) == weights.RING
    np.testing.assert_array_equal(np.concatenate(drawn), np.concatenate(expected))


def test_state_order_is_torchs_own_tensors_first_then_submodules() -> None:
    """A free tensor made after a layer still comes first at its level, as in torch's
    state_dict; a submodule's tensors follow its parent's own (window attention's table and
    index buffer before its `qkv`)."""
    b = GraphBuilder("Order")
    x = b.input("x", TensorType("float32", ("N", 4, 4, 8)))
    (y,) = b.apply("linear", [x], {"features": 8}, "fc")
    (y,) = b.apply("window_attention", [y], {"heads": 2, "window": 2, "shift": 1}, "block.attn")
    (t,) = b.apply("param", [], {"shape": [1, 8]}, "token")
    (u,) = b.apply("param", [], {"shape": [1, 8]}, "block.scale")
    graph = b.finish({"y": y, "t": t, "u": u})
    order = list(graph.state())
    assert order == list(to_torch(graph).state_dict()) == list(init_weights(graph))
    assert order[:3] == ["token", "fc.weight", "fc.bias"]
    assert order[3:6] == [
        "block.scale",
        "block.attn.relative_position_bias_table",
        "block.attn.relative_position_index",
    ]
