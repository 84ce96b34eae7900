"""Splitting: one data set + `split` fractions + seed -> train / val / test index sets.

The split is stratified by class when targets are class ids (each class is divided in the same
proportions), a plain shuffle otherwise, and depends only on the targets and the seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netlang.semantics import train_rules as rules

Fractions = tuple[float, float, float]


def parse_split(split: Any) -> Fractions:
    """`0.8` -> (0.8, 0.2, 0); `[0.7, 0.3]` -> (0.7, 0.3, 0); `[0.7, 0.15, 0.15]` as is (the rule
    `check` applies to every `split`).

    Raises:
        ValueError: not a fraction or a list of two or three fractions summing to 1.
    """
    return rules.split("split", split)


def without_test(fractions: Fractions) -> Fractions:
    """The train:val ratio alone, for a source that brings its own test split."""
    train, val, _ = fractions
    return (train / (train + val), val / (train + val), 0.0)


def split_indices(
    y: np.ndarray, fractions: Fractions, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted train, val and test indices into `y`.

    Each class (or, for float targets, the whole set) is shuffled with `seed` and cut into
    round(n * val) val samples, round(n * test) test samples and the rest for training.

    Raises:
        ValueError: a part with a non-zero fraction would get no samples.
    """
    rng = np.random.default_rng(seed)
    groups = (
        [np.flatnonzero(y == c) for c in np.unique(y)] if _is_class_ids(y) else [np.arange(len(y))]
    )
    parts: list[list[np.ndarray]] = [[], [], []]
    for group in groups:
        group = rng.permutation(group)
        n_val = round(len(group) * fractions[1])
        n_test = min(round(len(group) * fractions[2]), len(group) - n_val)
        n_train = len(group) - n_val - n_test
        for part, piece in zip(parts, np.split(group, [n_train, n_train + n_val])):
            part.append(piece)
    result = tuple(np.sort(np.concatenate(p)) for p in parts)
    for name, fraction, index in zip(("train", "val", "test"), fractions, result):
        if fraction > 0 and len(index) == 0:
            raise ValueError(
                f"split {list(fractions)!r} leaves the {name} part of {len(y)} samples empty"
            )
    return result  # type: ignore[return-value]


def _is_class_ids(y: np.ndarray) -> bool:
    return y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
