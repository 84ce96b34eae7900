"""The data layer: a train section's `data` / `augment` entries -> in-memory splits and batches.

Stages: `load_data` (a source call -> DataSplits of numpy arrays, split by seed), `Standardizer`
(statistics of the train split -> normalised arrays + metadata for the exported model),
`make_loader` (Dataset -> deterministic tensor batches) and `make_augment` (augment calls ->
a batch transform for training batches). Importing this package does not import torch.
May import diagnostics and semantics (the train section's data model).
"""

from __future__ import annotations

from netlang.data.augment import Augment, make_augment
from netlang.data.dataset import DataSplits, Dataset
from netlang.data.loader import Loader, make_loader
from netlang.data.sources import load_data
from netlang.data.standardize import Standardizer

__all__ = [
    "Augment",
    "DataSplits",
    "Dataset",
    "Loader",
    "Standardizer",
    "load_data",
    "make_augment",
    "make_loader",
]
