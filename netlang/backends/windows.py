"""The constant tables of shifted-window attention (Liu et al. 2021, section 3.2), computed once
for both lowerings and for fresh weights: which bias-table row each pair of positions in a window
reads, and which pairs a shifted window must keep apart."""

from __future__ import annotations

from functools import cache

import numpy as np


def relative_position_index(window: tuple[int, int]) -> np.ndarray:
    """int64 [(wh*ww)^2]: for positions i, j of a window (row-major), the row of the
    [(2wh-1)(2ww-1), heads] bias table holding their offset (torchvision's buffer)."""
    wh, ww = window
    rows, cols = np.meshgrid(np.arange(wh), np.arange(ww), indexing="ij")
    coords = np.stack([rows.ravel(), cols.ravel()])  # [2, T]
    offset = coords[:, :, None] - coords[:, None, :]  # [2, T, T]
    return ((offset[0] + wh - 1) * (2 * ww - 1) + offset[1] + ww - 1).ravel().astype(np.int64)


def padded(size: int, window: int) -> int:
    """A feature size padded up to a multiple of the window."""
    return size + (-size) % window


def effective_shift(
    sizes: tuple[int, int], window: tuple[int, int], shift: tuple[int, int]
) -> tuple[int, int]:
    """The shift per axis, 0 where one window covers the padded axis (torchvision's rule)."""
    return tuple(  # type: ignore[return-value]
        0 if w >= padded(n, w) else s for n, w, s in zip(sizes, window, shift)
    )


@cache
def shift_mask(
    sizes: tuple[int, int], window: tuple[int, int], shift: tuple[int, int]
) -> np.ndarray:
    """float32 [windows, T, T] added to the scores after the cyclic shift: -100 between
    positions that came from different regions of the padded map, 0 within one region.
    `sizes` are the padded sizes, `shift` the effective one."""
    region = np.zeros(sizes, np.float32)
    for axis, (w, s) in enumerate(zip(window, shift)):
        n = sizes[axis]
        ids = (np.arange(n) >= n - w).astype(np.float32) + (np.arange(n) >= n - s)
        region += ids.reshape((-1, 1) if axis == 0 else (1, -1)) * (3 if axis == 0 else 1)
    (ph, pw), (wh, ww) = sizes, window
    windows = region.reshape(ph // wh, wh, pw // ww, ww).transpose(0, 2, 1, 3)
    windows = windows.reshape(-1, wh * ww)
    mask = np.where(windows[:, None, :] != windows[:, :, None], -100.0, 0.0).astype(np.float32)
    mask.flags.writeable = False
    return mask
