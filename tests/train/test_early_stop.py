"""Early stopping on scripted metric sequences, alone and inside fit (with a fake validation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from netlang.train import loop
from netlang.train.early_stop import EarlyStopping
from netlang.train.evaluate import Evaluation
from netlang.semantics.train_spec import Call


def _stream(stopper: EarlyStopping, values: list[float]) -> tuple[int, list[bool]]:
    """Feed values until the stopper says stop; returns (epochs run, improved flags)."""
    improved = []
    for epoch, value in enumerate(values, start=1):
        improved.append(stopper.update(epoch, value))
        if stopper.should_stop:
            return epoch, improved
    return len(values), improved


def test_min_mode_stops_after_patience_epochs_without_improvement() -> None:
    stopper = EarlyStopping("val_loss", "min", patience=2)
    epochs, improved = _stream(stopper, [1.0, 0.8, 0.85, 0.9, 0.7, 0.6])
    assert epochs == 4
    assert improved == [True, True, False, False]
    assert (stopper.best, stopper.best_epoch) == (0.8, 2)


def test_max_mode_and_min_delta() -> None:
    stopper = EarlyStopping("val_accuracy", "max", patience=2, min_delta=0.01)
    # 0.905 beats 0.9 by less than min_delta: not an improvement; 0.92 is.
    epochs, improved = _stream(stopper, [0.9, 0.905, 0.92, 0.925, 0.921, 0.93])
    assert improved == [True, False, True, False, False]
    assert (epochs, stopper.best_epoch) == (5, 3)


def test_no_patience_tracks_the_best_but_never_stops() -> None:
    stopper = EarlyStopping("val_loss", "min", patience=None)
    epochs, _ = _stream(stopper, [1.0] + [2.0] * 20)
    assert (epochs, stopper.best_epoch, stopper.should_stop) == (21, 1, False)


def test_state_round_trips() -> None:
    stopper = EarlyStopping("val_loss", "min", patience=3)
    _stream(stopper, [1.0, 0.5, 0.6])
    copy = EarlyStopping("val_loss", "min", patience=3)
    copy.load_state_dict(stopper.state_dict())
    assert copy.state_dict() == {"best": 0.5, "best_epoch": 2, "wait": 1}


def _scripted_fit(
    monkeypatch: pytest.MonkeyPatch,
    splits: Any,
    model: torch.nn.Module,
    config: Any,
    run_dir: Path,
    losses: list[float],
) -> tuple[Any, list[Any]]:
    """fit() whose validation returns `losses` in turn and records the weights it saw."""
    seen: list[dict[str, torch.Tensor]] = []

    def fake_evaluate(module: torch.nn.Module, dataset: Any, **_: Any) -> Evaluation:
        seen.append({k: v.clone() for k, v in module.state_dict().items()})
        return Evaluation(losses[len(seen) - 1], None, None, torch.zeros(0))

    monkeypatch.setattr(loop, "evaluate", fake_evaluate)
    result = loop.fit(model, splits, config, run_dir, source_text="", log=lambda line: None)
    return result, seen


@pytest.mark.parametrize(
    ("losses", "patience", "best", "reason"),
    [
        ([1.0, 0.4, 0.7, 0.6, 0.8], 10, 2, "completed"),  # ends by the epoch limit
        ([1.0, 0.4, 0.7, 0.6, 0.8], 2, 2, "early_stop"),
    ],
)
def test_fit_restores_the_best_epochs_weights(
    monkeypatch: pytest.MonkeyPatch,
    splits: Any,
    make_model: Any,
    make_config: Any,
    tmp_path: Path,
    losses: list[float],
    patience: int,
    best: int,
    reason: str,
) -> None:
    config = make_config(
        epochs=5,
        early_stop=Call(
            "early_stop",
            (),
            {"monitor": Call("val_loss"), "patience": patience, "restore_best": True},
        ),
    )
    model = make_model(0)
    result, seen = _scripted_fit(monkeypatch, splits, model, config, tmp_path, losses)
    assert (result.stop_reason, result.best_epoch) == (reason, best)
    assert len(seen) == (5 if reason == "completed" else 4)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, seen[best - 1][name]), name


def test_without_restore_best_the_last_weights_stay(
    monkeypatch: pytest.MonkeyPatch, splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    config = make_config(epochs=3, early_stop=Call("early_stop", (), {"restore_best": False}))
    model = make_model(0)
    _, seen = _scripted_fit(monkeypatch, splits, model, config, tmp_path, [0.1, 0.5, 0.9])
    assert all(torch.equal(t, seen[-1][k]) for k, t in model.state_dict().items())
