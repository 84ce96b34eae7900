"""Batching: Dataset + batch size + (seed, epoch) -> an iterable of (x, y) tensor batches (x a
tuple of tensors, in input order, for a multi-input model's data).

The data set is wrapped as tensors once (zero-copy) and each batch is one index_select, with the
augmentation applied to the whole batch; there is no per-sample Python work and no worker
process, which for in-memory data is faster than torch's DataLoader. The order, and the random
draws of the augmentation, depend only on (seed, epoch). For data-parallel training, `shard=(r, W)`
gives rank r every W-th index of the same epoch order (trimmed to a multiple of W, so that every
rank has as many batches, of equal sizes), and its own augmentation stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from netlang.data.augment import Augment
from netlang.data.box_augment import PairedAugment
from netlang.data.dataset import Dataset
from netlang.data.inputs import as_tensors, take

if TYPE_CHECKING:
    import torch

_ORDER, _AUGMENT = 0, 1  # independent random streams per epoch


def make_loader(
    ds: Dataset,
    batch: int,
    *,
    shuffle: bool,
    seed: int,
    epoch: int = 0,
    augment: Augment | PairedAugment | None = None,
    drop_last: bool = False,
    shard: tuple[int, int] = (0, 1),
) -> Loader:
    """Batches of `ds` for one epoch; iterating again gives the same batches.

    Args:
        ds: the samples; every one appears exactly once per epoch (unless `drop_last`).
        batch: samples per batch (the last one may be smaller unless `drop_last`).
        shuffle: a fresh order for each (seed, epoch); in data-set order otherwise.
        seed, epoch: fix the order and the augmentation's random draws.
        augment: applied to each whole batch (training batches only); a PairedAugment moves
            the targets (boxes, masks) with the pixels.
        drop_last: leave out a final, smaller batch.
        shard: (rank, ranks): this rank's part of the epoch; `batch` is then per rank.

    Batches taken without shuffling or augmentation are views of the data set: don't modify
    them in place.
    """
    if batch < 1:
        raise ValueError(f"batch={batch!r}: expected a positive integer")
    rank, ranks = shard
    if not 0 <= rank < ranks:
        raise ValueError(f"shard={shard!r}: expected (rank, ranks) with 0 <= rank < ranks")
    return Loader(ds, batch, shuffle, seed, epoch, augment, drop_last, shard)


class Loader:
    """One epoch of batches; `len()` is the number of batches."""

    def __init__(
        self,
        ds: Dataset,
        batch: int,
        shuffle: bool,
        seed: int,
        epoch: int,
        augment: Augment | PairedAugment | None,
        drop_last: bool,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        self.ds, self.batch, self.shuffle, self.augment = ds, batch, shuffle, augment
        self.drop_last, (self.rank, self.ranks) = drop_last, shard
        # the order's seed, then one augmentation seed per rank (rank 0's is the unsharded one)
        self.seeds = np.random.SeedSequence([seed % 2**64, epoch]).generate_state(
            2 + self.rank, np.uint64
        )

    def __len__(self) -> int:
        n = len(self.ds) // self.ranks
        return n // self.batch if self.drop_last else -(-n // self.batch)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        import torch

        x, y, n = as_tensors(self.ds.x), as_tensors(self.ds.y), len(self.ds)
        order = (
            torch.randperm(n, generator=_generator(self.seeds[_ORDER])) if self.shuffle else None
        )
        if self.ranks > 1:
            order = torch.arange(n) if order is None else order
            order = order[: n - n % self.ranks][self.rank :: self.ranks]
        generator = _generator(self.seeds[_AUGMENT + self.rank])
        for start in range(0, len(self) * self.batch, self.batch):
            if order is None:
                index: Any = slice(start, start + self.batch)
            else:
                index = order[start : start + self.batch]
            xb, yb = take(x, index), take(y, index)
            if isinstance(self.augment, PairedAugment):
                xb, yb = self.augment(xb, yb, generator)
            elif self.augment is not None:
                xb = self.augment(xb, generator)
            yield xb, yb


def _generator(seed: np.uint64) -> torch.Generator:
    import torch

    return torch.Generator().manual_seed(int(seed) & ((1 << 63) - 1))
