"""Write digit_strips.npz: the built-in 8x8 digits, three at a time side by side, read column by
column. Each of the 599 strips is a sequence of 24 columns (8 pixels each, scaled to [0, 1]);
each column's tag is the digit it belongs to. Every image is used once (in an order shuffled
with numpy's default_rng(0)), so no image is in two splits. Run: python make_digit_strips.py
"""

from __future__ import annotations

import gzip
import io
from importlib import resources
from pathlib import Path

import numpy as np

DIGITS_PER_STRIP = 3


def digit_strips() -> tuple[np.ndarray, np.ndarray]:
    """x float32 [599, 24, 8] (columns), y int64 [599, 24] (the digit under each column)."""
    raw = (resources.files("netlang.data") / "digits.csv.gz").read_bytes()
    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode()), delimiter=",")
    order = np.random.default_rng(0).permutation(len(table))
    strips = len(table) // DIGITS_PER_STRIP
    chosen = table[order[: strips * DIGITS_PER_STRIP]]
    images = chosen[:, :64].reshape(strips, DIGITS_PER_STRIP, 8, 8) / 16.0  # digit, row, col
    columns = images.transpose(0, 1, 3, 2).reshape(strips, DIGITS_PER_STRIP * 8, 8)
    tags = np.repeat(chosen[:, 64].astype(np.int64).reshape(strips, DIGITS_PER_STRIP), 8, axis=1)
    return columns.astype(np.float32), tags


if __name__ == "__main__":
    x, y = digit_strips()
    np.savez_compressed(Path(__file__).with_name("digit_strips.npz"), x=x, y=y)
