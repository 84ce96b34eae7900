"""Outputs of models that are not classifiers: a batch of outputs -> files and numbers.

Image-shaped outputs ([N, 1|3, H, W], an autoencoder's reconstruction) become PNGs, regression
outputs ([N, K] of a model trained for regression) numbers, anything else one .npy per input.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from netlang.runtime.session import ModelInfo

CLASSIFYING = (None, "classification", "sequence")


def is_classifier(info: ModelInfo, output: np.ndarray) -> bool:
    """Whether top-k labels are the answer: a [N, classes] output of a classifier."""
    return info.task in CLASSIFYING and output.ndim == 2


def write_outputs(
    output: np.ndarray, names: list[str], out_dir: Path, *, stem: str = "output"
) -> list[Path]:
    """One file per input: a PNG when the output is an image, else a .npy array."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for base_name, value in zip(_file_stems(names), output, strict=True):
        base = out_dir / f"{base_name}.{stem}"
        if value.ndim == 3 and value.shape[0] in (1, 3):
            written.append(_png(value, base.with_suffix(base.suffix + ".png")))
        else:
            path = base.with_suffix(base.suffix + ".npy")
            np.save(path, value)
            written.append(path)
    return written


def _file_stems(names: list[str]) -> list[str]:
    """A distinct file stem per input: the row of an array file (`b.npy[1]`) adds `-1`, and a
    stem met again (`a/x.png`, `b/x.png`) adds a count, so no output overwrites another."""
    stems, seen = [], set()
    for name in names:
        row = re.fullmatch(r"(.*)\[(\d+)\]", name)
        stem = (Path(row[1]).stem or "input") + f"-{row[2]}" if row else Path(name).stem or "input"
        unique, count = stem, 1
        while unique in seen:
            count += 1
            unique = f"{stem}-{count}"
        seen.add(unique)
        stems.append(unique)
    return stems


def _png(value: np.ndarray, path: Path) -> Path:
    """C x H x W values, taken as [0, 1] intensities (clipped), -> an 8-bit PNG."""
    from PIL import Image

    pixels = (np.clip(value, 0.0, 1.0) * 255).round().astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(path)
    return path
