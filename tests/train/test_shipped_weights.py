"""What ships is what was tested: test.json, outcome.json, export's default checkpoint and the
shipped-epoch mark on curves.png all name one set of weights, with and without early stopping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from netlang.export.ship import shipped_checkpoint
from netlang.semantics.train_spec import Call
from netlang.train import finish, loop
from netlang.train.evaluate import Evaluation

LOSSES = [1.0, 0.4, 0.7, 0.6]  # scripted validation losses: epoch 2 is the best


def _fit(monkeypatch: pytest.MonkeyPatch, splits: Any, model: Any, config: Any, run_dir: Path):
    marks: list[int | None] = []
    calls = iter(LOSSES)

    def fake_validation(module: torch.nn.Module, dataset: Any, **_: Any) -> Evaluation:
        return Evaluation(next(calls), None, 0, 0)

    def recorded_plot(path: Path, history: Any, **marked: Any) -> None:
        marks.append(marked["shipped_epoch"])

    monkeypatch.setattr(loop, "evaluate", fake_validation)
    monkeypatch.setattr(finish, "plot_curves", recorded_plot)
    result = loop.fit(model, splits, config, run_dir, source_text="", log=lambda line: None)
    return result, marks


@pytest.mark.parametrize(
    ("early_stop", "checkpoint", "epoch"),
    [
        (None, "best", 2),  # no early stopping: still the best epoch, not the last
        ({"patience": 2, "restore_best": True}, "best", 2),
        ({"patience": 10, "restore_best": False}, "last", 4),
    ],
    ids=["no early stop", "early stop", "early stop without restore_best"],
)
def test_test_report_export_default_and_curves_name_the_same_weights(
    monkeypatch: pytest.MonkeyPatch,
    splits: Any,
    make_model: Any,
    make_config: Any,
    tmp_path: Path,
    early_stop: dict[str, Any] | None,
    checkpoint: str,
    epoch: int,
) -> None:
    entries: dict[str, Any] = {"epochs": 4}
    if early_stop is not None:
        entries["early_stop"] = Call("early_stop", (), early_stop)
    model = make_model(0)
    _, marks = _fit(monkeypatch, splits, model, make_config(**entries), tmp_path)

    test = json.loads((tmp_path / "test.json").read_text())
    outcome = json.loads((tmp_path / "outcome.json").read_text())
    assert (test["checkpoint"], test["epoch"]) == (checkpoint, epoch)
    assert (outcome["shipped_checkpoint"], outcome["shipped_epoch"]) == (checkpoint, epoch)
    assert shipped_checkpoint(tmp_path) == checkpoint
    assert marks == [epoch]

    weights = load_file(str(tmp_path / "checkpoints" / f"{checkpoint}.safetensors"))
    assert all(torch.equal(t, weights[k]) for k, t in model.state_dict().items())
    fresh = make_model(1)
    fresh.load_state_dict(weights)
    fresh.eval()
    with torch.no_grad():  # the shipped weights scored by hand: argmax against the labels
        predicted = fresh(torch.from_numpy(splits.test.x)).argmax(1).numpy()
    assert test["accuracy"] == pytest.approx(float((predicted == splits.test.y).mean()))
