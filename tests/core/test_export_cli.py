"""`netlang export --triton`: a bad Triton setting is refused before any file is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

import netlang
from netlang.backends.weights import init_weights
from netlang.cli import main

SOURCE = "model Tiny { input x: float32[N, 3]\n y = x -> linear(2)\n output y }"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "source.net").write_text(SOURCE)
    (run / "config.json").write_text(json.dumps({"model": "Tiny"}))
    weights = init_weights(netlang.load(SOURCE).model("Tiny"))
    save_file(weights, str(run / "checkpoints" / "last.safetensors"))
    return run


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "sp ace"])
def test_a_bad_triton_name_is_refused_before_anything_is_written(
    run_dir: Path, tmp_path: Path, name: str
) -> None:
    before = _files(tmp_path)
    args = ["export", str(run_dir), "-o", str(tmp_path / "m.onnx")]
    result = CliRunner().invoke(main, [*args, "--triton", str(tmp_path / "repo"), "--name", name])
    assert result.exit_code == 1 and "invalid model name" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _files(tmp_path) == before


def test_a_good_triton_name_writes_the_onnx_and_the_repository(
    run_dir: Path, tmp_path: Path
) -> None:
    args = ["export", str(run_dir), "-o", str(tmp_path / "m.onnx")]
    result = CliRunner().invoke(main, [*args, "--triton", str(tmp_path / "repo"), "--name", "t"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.onnx").is_file()
    assert (tmp_path / "repo" / "t" / "config.pbtxt").is_file()
