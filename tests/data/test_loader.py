"""The loader: every sample once per epoch, order fixed by (seed, epoch), augmentation only
where asked for."""

from __future__ import annotations

import numpy as np
import torch

from netlang.data import Dataset, make_augment, make_loader
from netlang.semantics.train_spec import Call


def numbered(n: int) -> Dataset:
    """Sample i is an image filled with the value i, so batches say which samples they hold."""
    x = np.repeat(np.arange(n, dtype=np.float32), 4).reshape(n, 1, 2, 2)
    return Dataset(x, np.arange(n, dtype=np.int64))


def ids(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> list[int]:
    return torch.cat([y for _, y in batches]).tolist()


def test_every_sample_appears_exactly_once_per_epoch() -> None:
    loader = make_loader(numbered(103), 10, shuffle=True, seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 11 and len(batches[-1][1]) == 3
    assert sorted(ids(batches)) == list(range(103))
    for x, y in batches:  # images travel with their labels
        assert torch.equal(x[:, 0, 0, 0], y.float())


def test_drop_last_leaves_out_the_short_batch() -> None:
    loader = make_loader(numbered(103), 10, shuffle=True, seed=0, drop_last=True)
    assert len(loader) == len(list(loader)) == 10
    assert all(len(y) == 10 for _, y in loader)


def test_order_is_fixed_by_seed_and_epoch() -> None:
    def order(seed: int, epoch: int) -> list[int]:
        return ids(list(make_loader(numbered(50), 8, shuffle=True, seed=seed, epoch=epoch)))

    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1)
    assert order(1, 0) != order(2, 0)
    assert order(1, 0) != list(range(50))


def test_without_shuffle_batches_are_in_data_set_order() -> None:
    assert ids(list(make_loader(numbered(25), 10, shuffle=False, seed=0))) == list(range(25))


def test_augmentation_applies_only_to_the_loader_given_it() -> None:
    ds = Dataset(
        np.random.default_rng(0).random((20, 1, 4, 4)).astype(np.float32),
        np.zeros(20, dtype=np.int64),
    )
    augment = make_augment([Call("noise", (0.5,))])
    train = torch.cat([x for x, _ in make_loader(ds, 8, shuffle=False, seed=0, augment=augment)])
    evaluation = torch.cat([x for x, _ in make_loader(ds, 8, shuffle=False, seed=0)])
    assert torch.equal(evaluation, torch.from_numpy(ds.x))
    assert not torch.allclose(train, evaluation, atol=0.1)
    again = torch.cat([x for x, _ in make_loader(ds, 8, shuffle=False, seed=0, augment=augment)])
    assert torch.equal(train, again)  # the augmentation's draws are fixed by (seed, epoch) too


def test_targets_keep_their_dtype() -> None:
    ds = Dataset(np.zeros((4, 3), np.float32), np.linspace(0, 1, 4).astype(np.float32))
    ((x, y),) = make_loader(ds, 4, shuffle=True, seed=0)
    assert x.dtype == torch.float32 and y.dtype == torch.float32
