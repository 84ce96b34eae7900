"""Augmentations, each against a hand-computed array or a torch/torchvision reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

from netlang.data import make_augment
from netlang.semantics.train_spec import Call


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """out[i, j] = image[i + dy, j + dx], zero where that falls outside (by hand, with slices)."""
    out = np.zeros_like(image)
    h, w = image.shape[-2:]
    out[..., max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)] = image[
        ..., max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)
    ]
    return out


def test_random_crop_with_padding_keeps_the_shape_and_shifts_the_content() -> None:
    x = torch.arange(1, 32 * 2 * 5 * 6 + 1, dtype=torch.float32).reshape(32, 2, 5, 6)
    out = make_augment([Call("random_crop", (), {"padding": 2})])(x, generator())
    assert out.shape == x.shape
    offsets = set()
    for sample, result in zip(x.numpy(), out.numpy()):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(result, shifted(sample, dy, dx))
        ]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 5  # offsets are drawn per sample


def test_random_crop_to_a_smaller_size_cuts_a_window() -> None:
    x = torch.rand(8, 3, 6, 6)
    out = make_augment([Call("random_crop", (4,), {})])(x, generator())
    assert out.shape == (8, 3, 4, 4)
    for sample, result in zip(x, out):
        assert any(
            torch.equal(result, sample[:, i : i + 4, j : j + 4]) for i in range(3) for j in range(3)
        )


def test_hflip_with_p_1_equals_torch_flip_and_p_0_is_identity() -> None:
    x = torch.rand(4, 3, 5, 7)
    assert torch.equal(make_augment([Call("hflip", (1.0,))])(x, generator()), torch.flip(x, [3]))
    assert torch.equal(make_augment([Call("hflip", (), {"p": 0.0})])(x, generator()), x)


def test_hflip_flips_each_sample_independently() -> None:
    x = torch.rand(64, 1, 3, 3)
    out = make_augment([Call("hflip")])(x, generator())
    flipped = [torch.equal(o, torch.flip(s, [2])) for s, o in zip(x, out)]
    assert all(f or torch.equal(o, s) for f, s, o in zip(flipped, x, out))
    assert 16 < sum(flipped) < 48


def test_rotation_by_zero_is_identity() -> None:
    x = torch.rand(3, 2, 7, 9)
    torch.testing.assert_close(make_augment([Call("rotate", (0,))])(x, generator()), x)


def test_rotation_by_90_degrees_equals_rot90() -> None:
    x = torch.rand(3, 2, 6, 6)
    out = make_augment([Call("rotate", ([90, 90],))])(x, generator())
    torch.testing.assert_close(out, torch.rot90(x, 1, (2, 3)), atol=1e-5, rtol=0)


def test_rotation_matches_torchvision_on_a_non_square_image() -> None:
    x = torch.rand(2, 3, 10, 14)
    out = make_augment([Call("rotate", ([30, 30],))])(x, generator())
    expected = TF.rotate(x, 30, interpolation=InterpolationMode.BILINEAR)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_noise_has_the_stated_std() -> None:
    x = torch.full((64, 1, 32, 32), 0.5)
    out = make_augment([Call("noise", (0.1,))])(x, generator())
    assert (out - x).mean().item() == pytest.approx(0.0, abs=2e-3)
    assert (out - x).std().item() == pytest.approx(0.1, rel=0.02)


def test_augmentation_is_repeatable_for_a_generator_seed() -> None:
    augment = make_augment(
        [
            Call("random_crop", (), {"padding": 1}),
            Call("hflip"),
            Call("rotate", (10,)),
            Call("noise", (0.05,)),
        ]
    )
    x = torch.rand(8, 3, 8, 8)
    assert torch.equal(augment(x, generator(7)), augment(x, generator(7)))
    assert not torch.equal(augment(x, generator(7)), augment(x, generator(8)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (Call("hlfip"), r"unknown augmentation 'hlfip' \(did you mean 'hflip'\?\)"),
        (Call("hflip", (), {"prob": 0.5}), "hflip has no argument 'prob'; its arguments are p"),
        (Call("hflip", (2,)), r"expected a probability in \[0, 1\]"),
        (Call("rotate"), "degrees=None: expected an angle"),
        (Call("rotate", (-400,)), "degrees=-400: expected an angle"),
        (Call("noise", (-1,)), "std=-1: expected a non-negative number"),
    ],
)
def test_bad_augment_calls_are_rejected_up_front(call: Call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_augment([call])


def test_image_augmentations_reject_vectors() -> None:
    with pytest.raises(ValueError, match=r"hflip needs image batches \[N, C, H, W\]"):
        make_augment([Call("hflip")])(torch.rand(4, 10), generator())
