"""A small compiled model (linear -> batch norm -> relu -> linear) and tiny in-memory data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import netlang
from netlang.data import DataSplits, Dataset
from netlang.ir import Graph
from netlang.train.config import TrainConfig, resolve_config
from netlang.semantics.train_spec import Stage, TrainSpec

from tests.transfer.transfer_small_model import SMALL


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _blobs(n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 1]], np.float32)
    x = centres[y] * 1.5 + rng.normal(size=(n, 6)).astype(np.float32) + 0.5
    return Dataset(x.astype(np.float32), y.astype(np.int64))


@pytest.fixture
def splits() -> DataSplits:
    return DataSplits(_blobs(64, 1), _blobs(32, 2), None, ["a", "b", "c"], (6,))


@pytest.fixture(scope="session")
def graph() -> Graph:
    return netlang.load(SMALL).model("Small")


@pytest.fixture
def make_config() -> Callable[..., TrainConfig]:
    """A TrainConfig from entries and stages written as Python values (CPU, batch 16)."""

    def make(stages: dict[str, dict[str, Any]] | None = None, **entries: Any) -> TrainConfig:
        entries = {"batch": 16, "epochs": 2, "device": "cpu", **entries}
        spec = TrainSpec("Small", entries, [Stage(k, v) for k, v in (stages or {}).items()])
        return resolve_config(spec, "Small")

    return make
