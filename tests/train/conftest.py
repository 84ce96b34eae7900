"""Tiny in-memory data and models for the trainer tests (fast: a few hundred samples, no files)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from netlang.data import DataSplits, Dataset
from netlang.train.config import TrainConfig, resolve_config
from netlang.semantics.train_spec import TrainSpec


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """Tiny models on a shared 2-core machine run several times faster on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _blobs(n: int, seed: int) -> Dataset:
    """Three Gaussian classes in 6 features: learnable in a few epochs, not trivially."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 1]], np.float32)
    x = centres[y] * 1.5 + rng.normal(size=(n, 6)).astype(np.float32)
    return Dataset(x.astype(np.float32), y.astype(np.int64))


@pytest.fixture
def splits() -> DataSplits:
    return DataSplits(_blobs(96, 1), _blobs(48, 2), _blobs(60, 3), ["a", "b", "c"], (6,))


@pytest.fixture
def make_model() -> Callable[[int], torch.nn.Module]:
    """An MLP with dropout (so the global RNG matters) and batch norm, initialised from `seed`."""

    def make(seed: int) -> torch.nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return torch.nn.Sequential(
                torch.nn.Linear(6, 16),
                torch.nn.BatchNorm1d(16),
                torch.nn.ReLU(),
                torch.nn.Dropout(0.3),
                torch.nn.Linear(16, 3),
            )

    return make


@pytest.fixture
def make_config() -> Callable[..., TrainConfig]:
    """A TrainConfig from train-section entries written as Python values (CPU, small batches)."""

    def make(**entries: Any) -> TrainConfig:
        entries = {"batch": 16, "epochs": 3, "device": "cpu", **entries}
        return resolve_config(TrainSpec("Tiny", entries), "Tiny")

    return make
