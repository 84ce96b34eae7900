"""In-memory data sets: the values every data source produces and the loader consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Dataset:
    """Samples and targets held in memory.

    `x` is float32 in [0, 1] for images and feature vectors (before standardisation) or int64
    tokens; `y` is int64 class ids or float32 regression targets.
    """

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"data set has {len(self.x)} samples but {len(self.y)} targets")

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, index: np.ndarray) -> Dataset:
        """The samples at `index`, in that order."""
        return Dataset(self.x[index], self.y[index])


@dataclass
class DataSplits:
    """What `load_data` returns: the splits a run trains, validates and tests on."""

    train: Dataset
    val: Dataset | None
    test: Dataset | None
    classes: list[str] | None  # class names in label order
    input_shape: tuple[int, ...]  # per sample, e.g. (1, 32, 32)
