"""Standardisation: per-channel / per-feature statistics of the train split only."""

from __future__ import annotations

import numpy as np
import pytest

from netlang.data import Standardizer, load_data
from netlang.semantics.train_spec import Call


def test_image_statistics_are_per_channel_and_match_a_hand_computation() -> None:
    # channel 0 holds 0, 2, 4, 6 -> mean 3, std sqrt(5); channel 1 is constant 1 -> std 1
    x = np.array([[[[0, 2]], [[1, 1]]], [[[4, 6]], [[1, 1]]]], dtype=np.float32)  # [2, 2, 1, 2]
    standardizer = Standardizer.fit(x)
    assert standardizer.to_metadata() == {"mean": [3.0, 1.0], "std": [pytest.approx(5**0.5), 1.0]}
    np.testing.assert_allclose(
        standardizer(x)[:, 0, 0], np.array([[-3, -1], [1, 3]]) / 5**0.5, rtol=1e-6
    )
    np.testing.assert_array_equal(standardizer(x)[:, 1], 0)


def test_vector_statistics_are_per_feature() -> None:
    x = np.array([[1, 10], [3, 30]], dtype=np.float32)
    assert Standardizer.fit(x).to_metadata() == {"mean": [2.0, 20.0], "std": [1.0, 10.0]}


def test_statistics_come_from_the_train_split_only() -> None:
    splits = load_data(Call("digits", (), {"split": [0.5, 0.25, 0.25]}))
    assert splits.val is not None
    mean = Standardizer.fit(splits.train.x).to_metadata()["mean"][0]
    assert mean == pytest.approx(float(splits.train.x.astype(np.float64).mean()), rel=1e-6)
    everything = np.concatenate([splits.train.x, splits.val.x]).astype(np.float64)
    assert mean != pytest.approx(float(everything.mean()), rel=1e-6)


def test_metadata_round_trips() -> None:
    x = np.random.default_rng(0).random((5, 3, 2, 2)).astype(np.float32)
    standardizer = Standardizer.fit(x)
    again = Standardizer.from_metadata(standardizer.to_metadata())
    np.testing.assert_array_equal(again(x), standardizer(x))


def test_tokens_cannot_be_standardised() -> None:
    with pytest.raises(ValueError, match="float samples"):
        Standardizer.fit(np.zeros((3, 4), dtype=np.int64))
