"""train_file and `netlang train`: a `.net` file on the built-in digits -> a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import netlang
from netlang.cli import main
from netlang.train.config import resolve_config
from netlang.train.run import prepare_data, train_file, weight_names
from netlang.semantics.train_spec import Call, TrainSpec

SOURCE = """
model Tiny(classes: int = 10) {
    input image: float32[N, 1, 8, 8]
    logits = image -> conv2d(4, kernel=3) -> batchnorm2d -> relu -> flatten
                   -> linear(classes)
    output logits
}

train Tiny {
    data       digits(split = [0.6, 0.2, 0.2])
    batch      64
    epochs     2
    optimizer  adam(lr = 1e-2)
    regularize l2(1e-3)
    BAD
}
"""


def _write(tmp_path: Path, bad: str = "") -> Path:
    path = tmp_path / "tiny.net"
    path.write_text(SOURCE.replace("BAD", bad))
    return path


def test_weight_names_are_the_connection_weights_of_the_ir(tmp_path: Path) -> None:
    graph = netlang.load(_write(tmp_path)).model("Tiny")
    names = weight_names(graph)
    assert len(names) == 2 and all(n.endswith(".weight") for n in names)
    params = graph.parameters()
    assert {n for n in params if n.endswith("weight")} - set(names)  # batch norm's scale is out
    assert all(len(params[n]) >= 2 for n in names)


def test_standardisation_uses_train_statistics_only() -> None:
    data = Call("digits", (), {"split": [0.6, 0.2, 0.2]})
    raw, _ = prepare_data(
        resolve_config(TrainSpec("M", {"data": data, "normalize": Call("none")}), "M"), Path(".")
    )
    splits, stats = prepare_data(resolve_config(TrainSpec("M", {"data": data}), "M"), Path("."))
    mean, std = raw.train.x.mean(dtype=np.float64), raw.train.x.std(dtype=np.float64)
    assert stats is not None and stats["mean"][0] == pytest.approx(mean, rel=1e-5)
    assert np.allclose(splits.test.x, (raw.test.x - mean) / std, atol=1e-4)
    assert abs(float(splits.test.x.mean())) > 1e-4  # the test split was not fitted


@pytest.mark.slow
def test_train_file_leaves_a_run_directory(tmp_path: Path) -> None:
    result = train_file(
        _write(tmp_path),
        None,
        {"out": str(tmp_path / "run"), "device": "cpu"},
        log=lambda line: None,
    )
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == "Tiny" and config["arguments"] == {"classes": 10}
    assert config["normalization"]["kind"] == "standardize"
    assert result.test is not None and result.test["accuracy"] > 0.5
    assert len(result.history) == 2


@pytest.mark.slow
def test_cli_trains_resumes_and_reports_errors(tmp_path: Path) -> None:
    runner, path, out = CliRunner(), _write(tmp_path), str(tmp_path / "run")
    first = runner.invoke(
        main, ["train", str(path), "--epochs", "1", "--out", out, "--device", "cpu"]
    )
    assert first.exit_code == 0, first.output
    assert "epoch 1/1" in first.output and "run directory:" in first.output
    again = runner.invoke(
        main, ["train", str(path), "--epochs", "2", "--out", out, "--resume", "--device", "cpu"]
    )
    assert again.exit_code == 0, again.output
    assert "resuming" in again.output and "epoch 2/2" in again.output
    bad = runner.invoke(main, ["train", str(_write(tmp_path, "clip -1.0")), "--out", out])
    assert bad.exit_code == 1
    assert "train.clip must be > 0" in bad.output


def test_unit_normalisation_maps_the_train_range_to_zero_one() -> None:
    data = Call("digits", (), {"split": [0.6, 0.2, 0.2]})
    splits, stats = prepare_data(
        resolve_config(TrainSpec("M", {"data": data, "normalize": Call("unit")}), "M"), Path(".")
    )
    assert stats is not None and stats["kind"] == "unit"
    assert (float(splits.train.x.min()), float(splits.train.x.max())) == (0.0, 1.0)


def test_quiet_drops_the_epoch_lines_and_verbose_adds_the_layers_and_splits(
    tmp_path: Path,
) -> None:
    runner, path = CliRunner(), str(_write(tmp_path))
    common = ["train", path, "--epochs", "1"]
    plain = runner.invoke(main, [*common, "--out", str(tmp_path / "a")])
    quiet = runner.invoke(main, [*common, "-q", "--out", str(tmp_path / "b")])
    verbose = runner.invoke(main, [*common, "-v", "--out", str(tmp_path / "c")])
    assert plain.exit_code == quiet.exit_code == verbose.exit_code == 0
    assert "epoch 1/1" in plain.output and "epoch 1/1" not in quiet.output
    assert "run directory:" in quiet.output and "test:" in quiet.output
    assert "epoch 1/1" in verbose.output and "data: " in verbose.output
    assert "total" in verbose.output.lower() and "data: " not in plain.output
    assert "device: " in verbose.output and '"batch": ' in verbose.output  # JSON, not repr
    assert "TrainConfig(" not in verbose.output
