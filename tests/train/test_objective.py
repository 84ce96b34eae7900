"""Losses, accuracy counts and the L1/L2 penalty terms, against hand computations and torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netlang.data import DataSplits, Dataset
from netlang.train.config import LossConfig, Penalty
from netlang.train.loop import fit
from netlang.tasks.classification import TASK as CLASSIFICATION
from netlang.train.objective import build_loss, penalised_weights, penalty
from netlang.semantics.train_spec import Call


def _value(term: torch.Tensor | None) -> float:
    assert term is not None
    return float(term.detach())


def _model() -> torch.nn.Module:
    """Linear(2,2) -> BatchNorm1d -> LayerNorm -> Linear(2,1) with weights chosen by hand."""
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2), torch.nn.LayerNorm(2), torch.nn.Linear(2, 1)
    )
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        model[0].bias.copy_(torch.tensor([5.0, 6.0]))
        model[1].weight.fill_(7.0)
        model[2].weight.fill_(8.0)
        model[3].weight.copy_(torch.tensor([[0.5, -1.0]]))
        model[3].bias.fill_(9.0)
    return model


def test_l2_is_strength_over_n_times_the_squared_connection_weights() -> None:
    # 1 + 4 + 9 + 16 + 0.25 + 1 = 31.25; biases and the norm layers' scales are left out.
    weights = penalised_weights(_model())
    assert _value(penalty(weights, [Penalty("l2", 0.1)], examples=50)) == pytest.approx(
        0.1 / 50 * 31.25
    )


def test_l1_is_strength_over_n_times_the_absolute_weights() -> None:
    weights = penalised_weights(_model())
    assert _value(penalty(weights, [Penalty("l1", 0.1)], examples=50)) == pytest.approx(
        0.1 / 50 * 11.5
    )


def test_l1_and_l2_add_up_and_zero_strength_adds_nothing() -> None:
    weights = penalised_weights(_model())
    both = penalty(weights, [Penalty("l1", 0.2), Penalty("l2", 0.1)], examples=10)
    assert _value(both) == pytest.approx(0.2 / 10 * 11.5 + 0.1 / 10 * 31.25)
    assert penalty(weights, [Penalty("l2", 0.0)], examples=10) is None


def test_explicit_weight_names_select_exactly_those_tensors() -> None:
    model = _model()
    chosen = penalised_weights(model, ["3.weight"])
    assert _value(penalty(chosen, [Penalty("l2", 1.0)], examples=1)) == pytest.approx(1.25)


def test_the_l2_term_reaches_the_gradient_step(make_config: Any, tmp_path: Path) -> None:
    """With zero inputs and targets the data loss has no gradient, so one full-batch SGD step
    moves w by exactly -lr * 2 * (lambda / n) * w."""
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0]]))
    n, lr, strength = 8, 0.5, 0.4
    data = Dataset(np.zeros((n, 2), np.float32), np.zeros((n, 1), np.float32))
    config = make_config(
        epochs=1,
        batch=n,
        optimizer=Call("sgd", (lr,)),
        loss=Call("mse"),
        regularize=Call("l2", (strength,)),
    )
    fit(
        model,
        DataSplits(data, None, None, None, (2,)),
        config,
        tmp_path,
        source_text="",
        log=lambda line: None,
    )
    expected = torch.tensor([[1.0, -2.0]]) * (1 - lr * 2 * strength / n)
    assert torch.allclose(model.weight.detach(), expected, atol=1e-7)


def test_label_smoothing_matches_torch_and_the_formula() -> None:
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 3, 1, 1, 2])
    loss = build_loss(LossConfig("cross_entropy", {"label_smoothing": 0.1}))(logits, y)
    assert torch.allclose(loss, F.cross_entropy(logits, y, label_smoothing=0.1))
    log_p = torch.log_softmax(logits, 1)
    by_hand = (0.9 * -log_p[torch.arange(5), y] + 0.1 * -log_p.mean(1)).mean()
    assert torch.allclose(loss, by_hand)


def test_other_losses_match_their_definitions() -> None:
    g = torch.Generator().manual_seed(1)
    out, y = torch.randn(6, 3, generator=g), torch.tensor([0, 1, 2, 2, 1, 0])
    nll = build_loss(LossConfig("nll"))(torch.log_softmax(out, 1), y)
    assert torch.allclose(nll, F.cross_entropy(out, y))
    mse = build_loss(LossConfig("mse"))(out, y)  # class ids become one-hot rows
    assert torch.allclose(mse, ((out - torch.eye(3)[y]) ** 2).mean())
    p, t = torch.rand(6, generator=g), torch.tensor([1.0, 0, 1, 0, 0, 1])
    bce = build_loss(LossConfig("bce"))(p, t)
    assert torch.allclose(bce, -(t * p.log() + (1 - t) * (1 - p).log()).mean())
    z = torch.randn(6, 1, generator=g)
    weighted = build_loss(LossConfig("bce_with_logits", {"pos_weight": 3.0}))(z, t)
    s = torch.sigmoid(z.flatten())
    assert torch.allclose(weighted, -(3 * t * s.log() + (1 - t) * (1 - s).log()).mean())


def _counts(out: torch.Tensor, y: torch.Tensor, loss: str) -> tuple[int, int] | None:
    counts = CLASSIFICATION.batch_metric(out, y, loss)
    return None if counts is None else (int(counts[0]), counts[1])


def test_accuracy_counts_argmax_for_classes_thresholds_for_binary_none_for_regression() -> None:
    out = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert _counts(out, torch.tensor([0, 1, 1]), "cross_entropy") == (2, 3)
    assert _counts(out, torch.tensor([0, 1, 1]), "nll") == (2, 3)
    logits = torch.tensor([[0.3], [-2.0], [1.0]])
    assert _counts(logits, torch.tensor([1.0, 1.0, 1.0]), "bce_with_logits") == (2, 3)
    assert _counts(torch.tensor([0.7, 0.2]), torch.tensor([1.0, 1.0]), "bce") == (1, 2)
    assert _counts(torch.randn(3, 1), torch.randn(3, 1), "mse") is None
