"""In-memory data sets: the values every data source produces and the loader consumes, and
image arrays -> Dataset (resized, optionally flattened)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from netlang.data.inputs import Inputs
from netlang.data.resize import resize


@dataclass
class Dataset:
    """Samples and targets held in memory.

    `x` is float32 in [0, 1] for images and feature vectors (before standardisation) or int64
    tokens, or such arrays named by input for a multi-input model (`Inputs`); `y` is int64
    class ids or float32 regression targets.
    """

    x: np.ndarray | Inputs
    y: np.ndarray
    labels: np.ndarray | None = None  # class ids when `y` is something else (autoencoders)

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"data set has {len(self.x)} samples but {len(self.y)} targets")

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, index: np.ndarray) -> Dataset:
        """The samples at `index`, in that order."""
        labels = None if self.labels is None else self.labels[index]
        return Dataset(self.x[index], self.y[index], labels)


@dataclass
class DataSplits:
    """What `load_data` returns: the splits a run trains, validates and tests on."""

    train: Dataset
    val: Dataset | None
    test: Dataset | None
    classes: list[str] | None  # class names in label order
    input_shape: tuple[int, ...]  # per sample, e.g. (1, 32, 32)
    tokenizer: Any = None  # text data: the tokenizer fitted on train (netlang.data.tokenize)
    input_shapes: dict[str, tuple[int, ...]] | None = None  # several inputs: each one's sample

    @property
    def inputs(self) -> tuple[str, ...] | None:
        """The input names a multi-input data set gives, in order; None for one input."""
        return None if self.input_shapes is None else tuple(self.input_shapes)


def image_dataset(
    x: np.ndarray, y: np.ndarray, *, size: tuple[int, int] | None, flatten: bool
) -> Dataset:
    """Images in [0, 1], [n, C, H, W] -> a Dataset, resized to `size` and maybe flattened."""
    if size is not None and size != x.shape[-2:]:
        x = resize(x, size)
    if flatten:
        x = x.reshape(len(x), -1)
    return Dataset(np.ascontiguousarray(x, dtype=np.float32), y)
