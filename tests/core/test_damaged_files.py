"""Files cut short (a full disk, an interrupted copy) or of another kind are said so, naming the
file, by every command that reads them: never an internal error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from netlang.cli import main

MODEL = "model M {\n    input x: float32[N, 4]\n    y = x -> linear(3)\n    output y\n}\n"


def cut(path: Path, keep: int) -> Path:
    short = path.with_name("short" + path.suffix)
    short.write_bytes(path.read_bytes()[:keep])
    return short


@pytest.mark.parametrize("command", ["predict", "serve"])
def test_an_onnx_file_cut_short_is_named_not_an_internal_error(
    tmp_path: Path, command: str
) -> None:
    (tmp_path / "m.net").write_text(MODEL)
    onnx = tmp_path / "m.onnx"
    assert (
        CliRunner().invoke(main, ["compile", str(tmp_path / "m.net"), "-o", str(onnx)]).exit_code
        == 0
    )
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    args = [str(tmp_path / "x.npy")] if command == "predict" else ["--port", "1"]
    result = CliRunner().invoke(main, [command, str(cut(onnx, 40)), *args])
    assert result.exit_code == 1 and "internal error" not in result.output, result.output
    assert "short.onnx is not an ONNX model onnxruntime can load" in result.output


def test_a_checkpoint_cut_short_is_named_by_export_and_by_transfer(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    from netlang.semantics.layer_patterns import TransferError
    from netlang.train.transfer import read_checkpoint

    save_file({"0.weight": np.zeros((3, 4), np.float32)}, str(tmp_path / "w.safetensors"))
    short = cut(tmp_path / "w.safetensors", 30)
    result = CliRunner().invoke(main, ["export", str(short)])
    assert result.exit_code == 1 and "internal error" not in result.output, result.output
    assert "short.safetensors cannot be read" in result.output
    with pytest.raises(TransferError, match="short.safetensors cannot be read .* cut short"):
        read_checkpoint(short)


def test_a_resume_state_cut_short_says_start_a_new_run(tmp_path: Path) -> None:
    import torch

    from netlang.train.checkpoint import load_state

    torch.save({"epoch": 3, "weights": torch.zeros(100)}, tmp_path / "state.pt")
    with pytest.raises(ValueError, match="cannot resume: .*short.pt cannot be read .*new run"):
        load_state(cut(tmp_path / "state.pt", 200))
