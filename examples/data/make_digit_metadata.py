"""Write digit_metadata.npz: the built-in 8x8 digits as two inputs a sample, for a model of two
inputs (examples/two_inputs.net). `image` float32 [1797, 1, 8, 8] holds the pixels / 16;
`features` float32 [1797, 3] what a scanner might record beside the picture: the mean ink, and
the width and height (in pixels) of the box around the strokes; `y` int64 [1797] the digit.
Run: python make_digit_metadata.py
"""

from __future__ import annotations

import gzip
import io
from importlib import resources
from pathlib import Path

import numpy as np


def digit_metadata() -> dict[str, np.ndarray]:
    raw = (resources.files("netlang.data") / "digits.csv.gz").read_bytes()
    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode()), delimiter=",")
    image = (table[:, :64].reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    ink = image[:, 0] > 0.25
    width = ink.any(axis=1).sum(axis=1)  # columns with a stroke
    height = ink.any(axis=2).sum(axis=1)  # rows with a stroke
    features = np.stack([image.mean(axis=(1, 2, 3)), width, height], axis=1).astype(np.float32)
    return {"image": image, "features": features, "y": table[:, 64].astype(np.int64)}


if __name__ == "__main__":
    np.savez_compressed(Path(__file__).with_name("digit_metadata.npz"), **digit_metadata())
