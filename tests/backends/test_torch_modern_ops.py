"""The ops of the modern zoo (MobileNet activations, broadcasting, attention and its padding
masks, free tensors, ConvNeXt's norm, stochastic depth), lowered to torch one node at a time,
against torch.nn.functional, torch.nn modules or their formulas (with the lowered module's
weights)."""

from __future__ import annotations

import math
from typing import Any

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from netlang.backends.torch_module import to_torch  # noqa: E402
from netlang.ops import ShapeError  # noqa: E402
from tests.backends.test_torch_ops import BATCH, check, one_node  # noqa: E402

Tensor = Any


@pytest.mark.parametrize(
    ("op", "attrs", "formula"),
    [
        ("relu6", {}, lambda x: x.clamp(0, 6)),
        ("hardsigmoid", {}, lambda x: (x + 3).clamp(0, 6) / 6),
        ("hardswish", {}, lambda x: x * (x + 3).clamp(0, 6) / 6),
        (
            "clamp",
            {"min": -0.5, "max": 0.25},
            lambda x: torch.minimum(x.maximum(torch.tensor(-0.5)), torch.tensor(0.25)),
        ),
        ("clamp", {"max": 0.1}, lambda x: torch.minimum(x, torch.tensor(0.1))),
    ],
    ids=["relu6", "hardsigmoid", "hardswish", "clamp", "clamp-max"],
)
def test_mobilenet_activation_matches_its_formula(op: str, attrs: dict, formula: Any) -> None:
    check(one_node(op, attrs, ("N", 3, 5, 4)), lambda w, xs: formula(xs[0]))


def test_clamp_without_bounds_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match="min"):
        one_node("clamp", {}, ("N", 3))


@pytest.mark.parametrize(
    ("op", "shapes"),
    [
        ("mul", [("N", 4, 3, 3), ("N", 4, 1, 1)]),  # squeeze-and-excitation gate
        ("add", [("N", 5, 6), (1, 5, 6)]),  # position embedding
        ("mul", [("N", 4, 3, 3), (4, 1, 1)]),  # layer scale, lower rank
        ("add", [(1, 3), ("N", 1)]),
    ],
)
def test_add_and_mul_broadcast_like_numpy(op: str, shapes: list[tuple]) -> None:
    reference = (lambda a, b: a + b) if op == "add" else (lambda a, b: a * b)
    check(one_node(op, {}, *shapes), lambda w, xs: reference(*xs))


@pytest.mark.parametrize(
    ("shapes", "detail"),
    [
        ([("N", 4, 3, 3), ("N", 2, 1, 1)], "sizes 4 and 2 on axis 1"),
        ([("N", 5), ("T", 5)], "sizes N and T on axis 0"),
    ],
)
def test_shapes_that_cannot_broadcast_are_a_shape_error(shapes: list, detail: str) -> None:
    with pytest.raises(ShapeError, match=detail):
        one_node("add", {}, *shapes)


def test_matmul_matches_torch_matmul_with_batch_broadcast() -> None:
    check(one_node("matmul", {}, ("N", 2, 3, 4), (1, 4, 5)), lambda w, xs: xs[0] @ xs[1])
    with pytest.raises(ShapeError, match="inner sizes 4 and 3"):
        one_node("matmul", {}, ("N", 3, 4), ("N", 3, 4))


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_attention_equals_multihead_attention_with_its_parameter_names(causal: bool) -> None:
    graph = one_node("attention", {"heads": 2, "causal": causal}, ("N", 5, 8))
    assert list(graph.parameters()) == [
        "layer.in_proj_weight",
        "layer.in_proj_bias",
        "layer.out_proj.weight",
        "layer.out_proj.bias",
    ]

    def reference(w: dict, xs: list[Tensor]) -> Tensor:
        x = xs[0]
        q, k, v = (x @ w["in_proj_weight"].T + w["in_proj_bias"]).chunk(3, -1)
        heads = [t.reshape(BATCH, 5, 2, 4).transpose(1, 2) for t in (q, k, v)]
        scores = heads[0] @ heads[1].transpose(-1, -2) / math.sqrt(4)
        if causal:
            scores = scores.masked_fill(torch.ones(5, 5).triu(1).bool(), float("-inf"))
        out = (scores.softmax(-1) @ heads[2]).transpose(1, 2).reshape(BATCH, 5, 8)
        return out @ w["out_proj.weight"].T + w["out_proj.bias"]

    check(graph, reference)


KEEP = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]]  # left padding, as the tokenizers


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_attention_with_a_keep_mask_equals_attention_over_the_kept_tokens_alone(
    causal: bool,
) -> None:
    module = to_torch(one_node("attention", {"heads": 2, "causal": causal}, ("N", 5, 8), ("N", 5)))
    x, keep = torch.randn(3, 5, 8), torch.tensor(KEEP, dtype=torch.float32)
    with torch.no_grad():
        out = module.eval()(x, keep)
        noisy = x.masked_fill((keep == 0).unsqueeze(-1), 100.0)  # whatever sits in the padding
        torch.testing.assert_close(module(noisy, keep)[keep == 1], out[keep == 1])
        for row in range(3):
            kept = x[row][keep[row] == 1][None]
            alone = module(kept, torch.ones(kept.shape[:2]))[0]
            torch.testing.assert_close(out[row][keep[row] == 1], alone)


def test_padding_mask_and_masked_mean_average_the_tokens_only() -> None:
    tokens = torch.tensor([[0, 0, 3, 4], [0, 0, 0, 0]])
    keep = to_torch(one_node("padding_mask", {}, ("N", 4), dtype="int64"))(tokens)
    torch.testing.assert_close(keep, torch.tensor([[0.0, 0, 1, 1], [0, 0, 0, 0]]))
    x = torch.randn(2, 4, 3)
    mean = to_torch(one_node("masked_mean", {}, ("N", 4, 3), ("N", 4)))(x, keep)
    torch.testing.assert_close(mean, torch.stack([x[0, 2:].mean(0), torch.zeros(3)]))
    with pytest.raises(ShapeError, match="must be \\[N, 4\\]"):
        one_node("masked_mean", {}, ("N", 4, 3), ("N", 5))


def test_param_is_a_free_tensor_stored_under_the_layers_own_name() -> None:
    graph = one_node("param", {"shape": [1, 3, 4], "value": 0.5})
    assert graph.parameters() == {"layer": (1, 3, 4)}
    module = to_torch(graph)
    torch.testing.assert_close(module(), torch.full((1, 3, 4), 0.5))
    check(graph, lambda w, xs: w["layer"])


def test_expand_batch_repeats_a_class_token_along_the_batch() -> None:
    check(
        one_node("expand_batch", {}, (1, 1, 4), ("N", 6, 4)),
        lambda w, xs: xs[0].expand(BATCH, 1, 4),
    )


def test_layernorm2d_normalises_channels_at_each_position() -> None:
    def reference(w: dict, xs: list[Tensor]) -> Tensor:
        x = xs[0].permute(0, 2, 3, 1)
        return F.layer_norm(x, (3,), w["weight"], w["bias"], 1e-6).permute(0, 3, 1, 2)

    check(one_node("layernorm2d", {}, ("N", 3, 4, 5)), reference)


def test_drop_path_is_identity_at_inference_and_drops_whole_samples_in_training() -> None:
    module = to_torch(one_node("drop_path", {"p": 0.5}, ("N", 3, 4)))
    x = torch.randn(400, 3, 4)
    assert torch.equal(module.eval()(x), x)
    torch.manual_seed(0)
    y = module.train()(x)
    kept = (y != 0).flatten(1).all(1)
    assert torch.equal((y == 0).flatten(1).all(1), ~kept)  # each sample whole or nothing
    torch.testing.assert_close(y[kept], 2 * x[kept])
    assert 0.4 < kept.float().mean().item() < 0.6


@pytest.mark.parametrize(
    ("shape", "window", "shift"),
    [((9, 7), 4, 2), ((8, 3), [4, 4], [2, 2]), ((5, 5), 7, 3), ((8, 8), 4, 0)],
    ids=["padded-shifted", "one-window-wide", "one-window", "unshifted"],
)
def test_window_attention_equals_torchvisions_shifted_window_attention(
    shape: tuple[int, int], window: Any, shift: Any
) -> None:
    from torchvision.models import swin_transformer as swin

    graph = one_node(
        "window_attention", {"heads": 2, "window": window, "shift": shift}, ("N", *shape, 6)
    )
    wins = [window] * 2 if isinstance(window, int) else window
    assert [*graph.parameters(), *graph.buffers()] == [
        f"layer.{name}"
        for name in ("relative_position_bias_table", "qkv.weight", "qkv.bias", "proj.weight")
        + ("proj.bias", "relative_position_index")
    ]

    def reference(w: dict, xs: list[Tensor]) -> Tensor:
        bias = swin._get_relative_position_bias(
            w["relative_position_bias_table"], w["relative_position_index"], wins
        )
        shifts = [shift] * 2 if isinstance(shift, int) else shift
        return swin.shifted_window_attention(
            xs[0],
            w["qkv.weight"],
            w["proj.weight"],
            bias,
            wins,
            2,
            shifts,
            qkv_bias=w["qkv.bias"],
            proj_bias=w["proj.bias"],
            training=False,
        )

    check(graph, reference)


def test_window_attention_matches_torchvision_at_unshifted_tall_and_padded_sizes() -> None:
    from torchvision.models.swin_transformer import ShiftedWindowAttention

    reference = ShiftedWindowAttention(4, [3, 3], [1, 1], 2)
    for size in [(2, 2), (3, 7), (10, 5)]:  # one window (no shift), one window tall, padded
        graph = one_node("window_attention", {"heads": 2, "window": 3, "shift": 1}, ("N", *size, 4))
        module = to_torch(graph)
        module.load_state_dict({f"layer.{k}": v for k, v in reference.state_dict().items()})
        with torch.no_grad():
            x = torch.randn(2, *size, 4)
            torch.testing.assert_close(module(x), reference(x))


@pytest.mark.parametrize(
    ("attrs", "shape", "message"),
    [
        ({"heads": 4, "window": 7, "shift": 3}, ("N", 8, 8, 6), "split evenly into 4 heads"),
        ({"heads": 2, "window": 4, "shift": 4}, ("N", 8, 8, 6), r"shift \[4, 4\] must lie"),
        ({"heads": 2}, ("N", 8, 6), "4-D input"),
        ({"heads": 2}, ("N", 8, 8, "C"), "fixed number of channels"),
    ],
    ids=["heads", "shift", "rank", "channels"],
)
def test_window_attention_shape_errors_name_the_cause(
    attrs: dict, shape: tuple, message: str
) -> None:
    with pytest.raises(ShapeError, match=message):
        one_node("window_attention", attrs, shape)


@pytest.mark.parametrize("shape", [(6, 4), (5, 7)], ids=["even", "odd"])
def test_patch_merging_equals_torchvisions_with_reduction_first(shape: tuple[int, int]) -> None:
    from torchvision.models.swin_transformer import PatchMerging

    graph = one_node("patch_merging", {}, ("N", *shape, 3))
    assert graph.outputs[0].type.shape == ("N", (shape[0] + 1) // 2, (shape[1] + 1) // 2, 6)
    assert list(graph.state()) == [
        "layer.reduction.weight",
        "layer.norm.weight",
        "layer.norm.bias",
    ]

    def reference(w: dict, xs: list[Tensor]) -> Tensor:
        module = PatchMerging(3)
        module.load_state_dict(w)
        return module(xs[0])

    check(graph, reference)


def test_linear_takes_channels_last_maps_even_where_channels_equal_the_sides() -> None:
    """Swin-T at 384 has [N, 96, 96, 96] channels last; a square [N, C, H, W] is still refused."""
    graph = one_node("linear", {"features": 4}, ("N", 6, 6, 6))
    assert graph.outputs[0].type.shape == ("N", 6, 6, 4)
    with pytest.raises(ShapeError, match="expects a 2-D or 3-D input"):
        one_node("linear", {"features": 4}, ("N", 8, 6, 6))
