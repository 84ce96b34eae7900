"""Classification metrics: per-class precision / recall / F1, macro means and the confusion
matrix, against values worked out by hand."""

from __future__ import annotations

import pytest
import torch

from netlang.tasks.classification import class_scores


def test_per_class_scores_and_macro_means_match_hand_counts() -> None:
    # class 0: 3 true, predicted 0,0,1; class 1: 2 true, predicted 1,0; class 2: 1 true, as 2
    truth = torch.tensor([0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 0, 1, 1, 0, 2])
    scores = class_scores(predicted, truth, 3)
    assert scores["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert scores["precision"] == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert scores["recall"] == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert scores["f1"] == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert scores["support"] == [3, 2, 1]
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)


def test_a_class_never_predicted_has_zero_precision_not_nan() -> None:
    scores = class_scores(torch.tensor([0, 0, 0]), torch.tensor([0, 1, 1]), 2)
    assert scores["precision"] == pytest.approx([1 / 3, 0.0])
    assert scores["recall"] == pytest.approx([1.0, 0.0])
    assert scores["f1"] == pytest.approx([0.5, 0.0])
