"""Splits: sizes, stratification, disjointness and determinism by seed."""

from __future__ import annotations

import numpy as np
import pytest

from netlang.data import load_data
from netlang.data.split import parse_split, split_indices
from netlang.semantics.train_spec import Call

DIGIT_COUNTS = np.array([178, 182, 177, 183, 181, 182, 181, 179, 174, 180])


def test_three_way_split_is_stratified_per_class() -> None:
    splits = load_data(Call("digits", (), {"split": [0.7, 0.15, 0.15]}), seed=3)
    assert splits.val is not None and splits.test is not None
    part = np.round(DIGIT_COUNTS * 0.15)  # per class, e.g. 178 * 0.15 = 26.7 -> 27
    assert np.bincount(splits.val.y).tolist() == part.tolist()
    assert np.bincount(splits.test.y).tolist() == part.tolist()
    assert np.bincount(splits.train.y).tolist() == (DIGIT_COUNTS - 2 * part).tolist()


def test_parts_are_disjoint_and_cover_every_sample() -> None:
    y = np.repeat(np.arange(4), [10, 20, 30, 41])
    train, val, test = split_indices(y, (0.6, 0.2, 0.2), seed=0)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(y)))


def test_same_seed_same_split_other_seed_other_split() -> None:
    def val_x(seed: int) -> np.ndarray:
        val = load_data(Call("digits", (), {"split": 0.8}), seed=seed).val
        assert val is not None
        return val.x

    np.testing.assert_array_equal(val_x(1), val_x(1))
    assert not np.array_equal(val_x(1), val_x(2))


def test_a_train_fraction_gives_train_and_val_only() -> None:
    assert parse_split(0.8) == pytest.approx((0.8, 0.2, 0.0))
    assert parse_split([0.9, 0.1]) == pytest.approx((0.9, 0.1, 0.0))
    splits = load_data(Call("digits", (), {"split": 0.8}))
    assert splits.test is None and splits.val is not None
    assert len(splits.train) + len(splits.val) == 1797


def test_float_targets_are_shuffled_without_stratification() -> None:
    y = np.linspace(0, 1, 100).astype(np.float32)
    train, val, test = split_indices(y, (0.5, 0.3, 0.2), seed=0)
    assert (len(train), len(val), len(test)) == (50, 30, 20)


def test_an_empty_part_is_an_error() -> None:
    with pytest.raises(ValueError, match="leaves the val part of 3 samples empty"):
        split_indices(np.array([0, 1, 2]), (0.9, 0.1, 0.0), seed=0)
