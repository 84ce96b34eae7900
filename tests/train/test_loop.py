"""fit(): the run directory, bit-exact resume, Ctrl-C, non-finite losses, reproducibility."""

from __future__ import annotations

import csv
import json
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from netlang.data import DataSplits, Dataset, make_loader
from netlang.train.config import LossConfig
from netlang.train.loop import NonFiniteLoss, fit
from netlang.semantics.train_spec import Call

QUIET = {"log": lambda line: None}
# Everything that carries state across a resume: momentum, a schedule with warm-up, a penalty,
# augmentation drawing random numbers, dropout drawing from the global RNG, batch norm buffers.
RICH = {
    "epochs": 4,
    "optimizer": Call("sgd", (0.05, 0.9, True)),
    "schedule": Call("cosine", (), {"warmup": 1}),
    "regularize": Call("l2", (0.01,)),
    "augment": [Call("noise", (0.1,))],
    "early_stop": Call("early_stop", (), {"monitor": Call("val_accuracy"), "patience": 9}),
}


class _Interrupting:
    """A loader's epoch that raises KeyboardInterrupt (or sends SIGINT) before batch `at`."""

    def __init__(self, batches: Any, at: int, real_signal: bool) -> None:
        self.batches, self.at, self.real_signal = batches, at, real_signal

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Any]:
        for k, batch in enumerate(self.batches):
            if k == self.at and not self.real_signal:
                raise KeyboardInterrupt
            if k == self.at:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while this batch trains
            yield batch


def _interrupting_loader(epoch: int, at: int, real_signal: bool = False) -> Any:
    def loader(ds: Any, batch: int, **options: Any) -> Any:
        batches = make_loader(ds, batch, **options)
        if options.get("shuffle") and options.get("epoch") == epoch:
            return _Interrupting(batches, at, real_signal)
        return batches

    return loader


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_run_directory_holds_every_record(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    model = make_model(0)
    config = make_config(**RICH)
    result = fit(
        model,
        splits,
        config,
        tmp_path,
        source_text="model Tiny {}\n",
        metadata={"normalization": {"mean": [0.0], "std": [1.0]}},
        **QUIET,
    )
    assert (tmp_path / "source.net").read_text() == "model Tiny {}\n"
    saved = json.loads((tmp_path / "config.json").read_text())
    settled = replace(config, task="classification", loss=LossConfig("cross_entropy"))
    assert saved["config"] == json.loads(settled.dumps())  # with the inferred task and its loss
    assert (saved["classes"], saved["normalization"]["std"]) == (["a", "b", "c"], [1.0])
    with open(tmp_path / "metrics.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert set(rows[0]) == {
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "seconds",
        "stage",
    }
    assert json.loads((tmp_path / "metrics.json").read_text())[3]["val_loss"] == pytest.approx(
        float(rows[3]["val_loss"])
    )
    for png in ("curves.png", "confusion.png"):
        with Image.open(tmp_path / png) as image:
            assert image.format == "PNG" and image.size[0] > 100
    state = torch.load(tmp_path / "checkpoints" / "state.pt", weights_only=True)
    assert state["epoch"] == 4 and "optimizer" in state and "rng" in state
    best = load_file(str(tmp_path / "checkpoints" / "best.safetensors"))
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())  # restored
    assert set(load_file(str(tmp_path / "checkpoints" / "last.safetensors"))) == set(best)
    _check_test_report(model, splits, tmp_path, result.test)


def _check_test_report(model: torch.nn.Module, splits: Any, run_dir: Path, test: Any) -> None:
    """test.json and confusion.txt agree with a direct evaluation of the restored model."""
    model.eval()
    with torch.no_grad():
        predicted = model(torch.as_tensor(splits.test.x)).argmax(1)
    truth = torch.as_tensor(splits.test.y)
    assert json.loads((run_dir / "test.json").read_text())["accuracy"] == pytest.approx(
        float((predicted == truth).double().mean())
    )
    lines = (run_dir / "confusion.txt").read_text().splitlines()
    row_a = [int(v) for v in lines[3].split("|")[1].split()]
    assert row_a == [int(((truth == 0) & (predicted == c)).sum()) for c in range(3)]
    assert test["confusion"][0] == row_a


def test_same_seed_gives_bit_identical_runs(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    config = make_config(**RICH)
    first, second = make_model(0), make_model(0)
    a = fit(first, splits, config, tmp_path / "a", source_text="", **QUIET)
    b = fit(second, splits, config, tmp_path / "b", source_text="", **QUIET)
    assert _same_weights(first, second)
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]


@pytest.mark.parametrize(("epoch", "at"), [(1, 3), (2, 0)])
def test_interrupt_then_resume_ends_with_the_uninterrupted_weights(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path, epoch: int, at: int
) -> None:
    config = make_config(**RICH)
    reference = make_model(0)
    fit(reference, splits, config, tmp_path / "ref", source_text="", **QUIET)

    lines: list[str] = []
    interrupted = fit(
        make_model(0),
        splits,
        config,
        tmp_path / "run",
        source_text="",
        loader=_interrupting_loader(epoch, at),
        log=lines.append,
    )
    assert interrupted.stop_reason == "interrupted"
    assert f"interrupted in epoch {epoch + 1} after batch {at}" in lines[-1]
    assert "--resume" in lines[-1]
    state = torch.load(tmp_path / "run" / "checkpoints" / "state.pt", weights_only=True)
    assert (state["epoch"], state["batch"]) == (epoch, at)

    resumed = make_model(99)  # a different init: every weight must come from the checkpoint
    torch.manual_seed(12345)  # as in a fresh process: the dropout RNG must come from it too
    result = fit(resumed, splits, config, tmp_path / "run", source_text="", resume=True, **QUIET)
    assert result.stop_reason == "completed"
    assert _same_weights(resumed, reference)
    assert len(result.history) == 4


def test_a_real_ctrl_c_finishes_the_batch_then_saves(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    lines: list[str] = []
    result = fit(
        make_model(0),
        splits,
        make_config(),
        tmp_path,
        source_text="",
        loader=_interrupting_loader(0, 2, real_signal=True),
        log=lines.append,
    )
    assert result.stop_reason == "interrupted"
    state = torch.load(tmp_path / "checkpoints" / "state.pt", weights_only=True)
    assert (state["epoch"], state["batch"]) == (0, 3)  # batch 3 was trained, then it stopped
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_refuses_a_changed_configuration(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    fit(make_model(0), splits, make_config(epochs=1), tmp_path, source_text="", **QUIET)
    more = fit(
        make_model(0), splits, make_config(epochs=2), tmp_path, source_text="", resume=True, **QUIET
    )
    assert [r["epoch"] for r in more.history] == [1, 2]
    with pytest.raises(ValueError, match=r"configuration changed \(batch\)"):
        fit(
            make_model(0),
            splits,
            make_config(epochs=3, batch=8),
            tmp_path,
            source_text="",
            resume=True,
            **QUIET,
        )


def test_resume_refuses_another_model_naming_the_tensors_that_differ(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    fit(make_model(0), splits, make_config(epochs=1), tmp_path, source_text="", **QUIET)
    wider = make_model(0)
    wider[4] = torch.nn.Linear(16, 3, bias=False)
    with pytest.raises(ValueError, match=r"the model is not the one the run trained \(gone 4.bias"):
        fit(wider, splits, make_config(epochs=2), tmp_path, source_text="", resume=True, **QUIET)


class _BlowsUp(torch.nn.Module):
    """Returns NaN on its `at`-th call in training mode."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.linear, self.calls, self.at = torch.nn.Linear(6, 3), 0, at

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += self.training
        out = self.linear(x)
        return out * float("nan") if self.calls == self.at else out


def test_a_non_finite_loss_stops_the_run_naming_epoch_and_batch(
    splits: Any, make_config: Any, tmp_path: Path
) -> None:
    # 96 samples in batches of 16: six batches an epoch, so call 8 is epoch 2, batch 2.
    with pytest.raises(NonFiniteLoss, match="loss became nan in epoch 2, batch 2"):
        fit(_BlowsUp(8), splits, make_config(), tmp_path, source_text="", **QUIET)


def test_monitoring_val_without_a_val_split_is_an_error(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    splits.val = None
    config = make_config(early_stop=Call("early_stop"))
    with pytest.raises(ValueError, match="val_loss needs a validation split"):
        fit(make_model(0), splits, config, tmp_path, source_text="", **QUIET)


def test_val_every_validates_on_those_epochs_and_the_last(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    result = fit(
        make_model(0), splits, make_config(epochs=5, val_every=2), tmp_path, source_text="", **QUIET
    )
    assert [r["val_loss"] is not None for r in result.history] == [False, True, False, True, True]
    with open(tmp_path / "metrics.csv") as stream:
        assert next(csv.DictReader(stream))["val_loss"] == ""


def test_amp_on_cpu_trains_in_bfloat16_autocast(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    result = fit(make_model(0), splits, make_config(amp=True), tmp_path, source_text="", **QUIET)
    assert all(r["train_loss"] == r["train_loss"] for r in result.history)  # finite, not NaN


def test_float_targets_are_a_regression_with_mae_and_r2(
    make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    data = Dataset(x, x[:, :3] @ np.ones((3, 1), np.float32))
    splits = DataSplits(data, data, data, None, (6,))
    model = torch.nn.Linear(6, 1)
    config = make_config(loss=Call("mse"), epochs=30, optimizer=Call("adam", (0.05,)))
    result = fit(model, splits, config, tmp_path, source_text="", **QUIET)
    assert all("train_accuracy" not in r and r["train_mae"] is not None for r in result.history)
    test = json.loads((tmp_path / "test.json").read_text())
    with torch.no_grad():
        predicted = model(torch.as_tensor(x)).numpy()
    truth = data.y
    r2 = 1 - ((predicted - truth) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
    assert test["task"] == "regression" and "accuracy" not in test
    assert test["r2"] == pytest.approx(float(r2), abs=1e-4) and test["r2"] > 0.9
    assert test["mae"] == pytest.approx(float(np.abs(predicted - truth).mean()), abs=1e-5)
    assert (tmp_path / "predicted.png").is_file() and not (tmp_path / "confusion.txt").exists()


def test_resuming_a_run_that_stopped_early_trains_no_further(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    config = make_config(
        epochs=30,
        optimizer=Call("sgd", (1e-6,)),
        early_stop=Call("early_stop", (), {"patience": 1, "min_delta": 1.0}),
    )
    first = fit(make_model(0), splits, config, tmp_path, source_text="", **QUIET)
    assert (first.stop_reason, len(first.history)) == ("early_stop", 2)
    again = fit(make_model(0), splits, config, tmp_path, source_text="", resume=True, **QUIET)
    assert (again.stop_reason, len(again.history)) == ("early_stop", 2)


def test_train_metrics_are_means_over_the_epochs_samples(
    splits: Any, make_config: Any, tmp_path: Path
) -> None:
    """With a step too small to change float32 weights, the epoch's train loss and accuracy
    equal a direct evaluation of the (unchanged) model on the whole train split."""
    model = torch.nn.Linear(6, 3)
    config = make_config(epochs=1, optimizer=Call("sgd", (1e-30,)))
    result = fit(model, splits, config, tmp_path, source_text="", **QUIET)
    with torch.no_grad():
        out = model(torch.as_tensor(splits.train.x))
    y = torch.as_tensor(splits.train.y)
    row = result.history[0]
    assert row["train_loss"] == pytest.approx(
        float(torch.nn.functional.cross_entropy(out, y)), rel=1e-5
    )
    assert row["train_accuracy"] == pytest.approx(float((out.argmax(1) == y).double().mean()))


def _images(n: int, seed: int) -> Dataset:
    """Two classes of 1x8x8 images: a bright left half or a bright right half, with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 0.5, (n, 1, 8, 8)).astype(np.float32)
    x[y == 0, :, :, :4] += 1
    x[y == 1, :, :, 4:] += 1
    return Dataset(x, y.astype(np.int64))


def _conv_net() -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3),
            torch.nn.BatchNorm2d(4),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(144, 2),
        )


def _image_splits() -> DataSplits:
    return DataSplits(_images(64, 1), _images(32, 2), _images(32, 3), ["left", "right"], (1, 8, 8))


@pytest.mark.parametrize(
    "switch",
    ["channels_last", pytest.param("compile", marks=pytest.mark.slow)],
)
def test_channels_last_and_compile_train_to_the_losses_of_eager_nchw(
    make_config: Any, tmp_path: Path, switch: str
) -> None:
    eager = fit(
        _conv_net(), _image_splits(), make_config(), tmp_path / "eager", source_text="", **QUIET
    )
    model = _conv_net()
    fast = fit(
        model,
        _image_splits(),
        make_config(**{switch: True}),
        tmp_path / "fast",
        source_text="",
        **QUIET,
    )
    for ours, reference in zip(fast.history, eager.history, strict=True):
        assert ours["train_loss"] == pytest.approx(reference["train_loss"], rel=2e-3)
        assert ours["val_loss"] == pytest.approx(reference["val_loss"], rel=2e-3)
    if switch == "channels_last":
        assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    saved = load_file(str(tmp_path / "fast" / "checkpoints" / "last.safetensors"))
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
