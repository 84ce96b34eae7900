"""Image resizing: float images [n, C, H, W] -> [n, C, h, w], bilinear, vectorised with numpy.

The filter is the one Pillow's BILINEAR and torch's `interpolate(..., antialias=True)` use: a
triangle on pixel centres, widened by the scale factor when shrinking so that every source pixel
contributes (no aliasing). When enlarging it is plain bilinear interpolation (align_corners=False).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def parse_size(size: Any) -> tuple[int, int]:
    """`32` -> (32, 32); `[24, 32]` -> (24, 32) as (height, width).

    Raises:
        ValueError: not a positive integer or a pair of them.
    """
    pair = [size, size] if not isinstance(size, (list, tuple)) else list(size)
    if len(pair) != 2 or not all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in pair
    ):
        raise ValueError(f"size={size!r}: expected a positive integer or [height, width]")
    return (pair[0], pair[1])


def resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize the last two axes of `x` to `size` (height, width); float32 result."""
    rows = _weights(x.shape[-2], size[0])
    cols = _weights(x.shape[-1], size[1])
    return (rows @ x.astype(np.float32) @ cols.T).astype(np.float32)


def _weights(n_in: int, n_out: int) -> np.ndarray:
    """The [n_out, n_in] matrix whose row i holds the weights of output pixel i."""
    scale = n_in / n_out
    support = max(scale, 1.0)  # widen the triangle when shrinking
    centres = (np.arange(n_out) + 0.5) * scale
    distance = (np.arange(n_in)[None, :] + 0.5 - centres[:, None]) / support
    w = np.clip(1.0 - np.abs(distance), 0.0, None)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
