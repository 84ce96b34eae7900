"""Resizing matches torch's antialiased bilinear interpolation (which follows Pillow)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netlang.data.resize import parse_size, resize


@pytest.mark.parametrize("size", [(32, 32), (5, 12), (3, 3)])
def test_resize_matches_torch_antialiased_bilinear(size: tuple[int, int]) -> None:
    x = np.random.default_rng(0).random((3, 2, 8, 8)).astype(np.float32)
    expected = F.interpolate(
        torch.from_numpy(x), size=size, mode="bilinear", antialias=True, align_corners=False
    ).numpy()
    np.testing.assert_allclose(resize(x, size), expected, atol=1e-6)


def test_size_is_an_int_or_a_height_width_pair() -> None:
    assert parse_size(32) == (32, 32)
    assert parse_size([24, 32]) == (24, 32)
    with pytest.raises(ValueError):
        parse_size([1, 2, 3])
