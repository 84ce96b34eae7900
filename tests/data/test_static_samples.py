"""`check` knows the sample shape of the built-in sets from their arguments alone
(semantics.train_data.static_sample); the loaders are the reference it must agree with, so a
model `check` accepts is one whose input `train` can feed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netlang.data import load_data
from netlang.semantics.train_data import static_sample
from netlang.semantics.train_spec import Call

ARGUMENTS: list[dict[str, Any]] = [
    {},
    {"flatten": True},
    {"size": 12},
    {"size": [6, 10]},
    {"size": 16, "flatten": True},
]


@pytest.mark.parametrize("arguments", ARGUMENTS, ids=str)
def test_check_knows_the_sample_shape_digits_gives(arguments: dict[str, Any]) -> None:
    splits = load_data(Call("digits", (), {"split": 1.0, **arguments}))
    assert static_sample("digits", arguments) == splits.input_shape


@pytest.mark.parametrize("source", ["mnist", "notmnist"])
@pytest.mark.parametrize("arguments", ARGUMENTS[:3], ids=str)
def test_check_knows_the_sample_shape_of_the_idx_sets(
    source: str, arguments: dict[str, Any], shared_data: Path
) -> None:
    root = str(shared_data / source)
    splits = load_data(Call(source, (root,), {"limit": 30, "split": 1.0, **arguments}))
    assert static_sample(source, arguments) == splits.input_shape


@pytest.mark.parametrize("arguments", [{}, {"size": 48}], ids=str)
def test_check_knows_the_sample_shape_of_digit_scenes(arguments: dict[str, Any]) -> None:
    splits = load_data(Call("digit_scenes", (), {"count": 8, "split": 1.0, **arguments}))
    assert static_sample("digit_scenes", arguments) == splits.input_shape


def test_sources_read_from_files_of_unknown_shape_are_left_to_train() -> None:
    assert static_sample("csv", {"path": "x.csv"}) is None
    assert static_sample("image_folder", {"root": "x", "size": 32}) is None
    assert static_sample("digits", {"size": "big"}) is None  # refused by its own rule
