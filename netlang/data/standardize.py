"""Standardisation: training samples -> per-channel (images) or per-feature (vectors) mean and
std, and the map x -> (x - mean) / std that is applied to every split and saved with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

STD_FLOOR = 0.01  # relative to the mean std over channels/features


@dataclass(frozen=True)
class Standardizer:
    """Mean and std along axis 1 of a batch (channels of [n, C, ...], features of [n, F])."""

    mean: np.ndarray  # [C]
    std: np.ndarray  # [C]

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        """Statistics of `x`, which must be the TRAIN split only (no peeking at val/test).

        A constant channel gets std 1, so it maps to 0 instead of dividing by zero; a nearly
        constant one (a border pixel that is ink once in a small split) gets a floor of 1% of the
        mean std, so unseen inputs do not land tens of standard deviations out.

        Raises:
            ValueError: `x` is not a float batch with a channel/feature axis.
        """
        if x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"standardize needs float samples [n, C, ...] or [n, F], got "
                f"{x.dtype} {list(x.shape)}"
            )
        axes = (0, *range(2, x.ndim))
        mean = x.mean(axis=axes, dtype=np.float64)
        std = x.std(axis=axes, dtype=np.float64)
        std = np.where(std > 0, np.maximum(std, STD_FLOOR * std.mean()), 1.0)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Standardizer:
        """The inverse of `to_metadata`, for prediction with a saved model."""
        return cls(
            np.asarray(metadata["mean"], np.float32), np.asarray(metadata["std"], np.float32)
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(x - mean) / std per channel, float32, for a batch [n, C, ...]."""
        shape = (1, len(self.mean)) + (1,) * (x.ndim - 2)
        return ((x - self.mean.reshape(shape)) / self.std.reshape(shape)).astype(np.float32)

    def to_metadata(self) -> dict[str, list[float]]:
        """{"mean": [...], "std": [...]}, one entry per channel/feature (JSON-able)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}
