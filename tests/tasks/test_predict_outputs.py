"""`netlang predict` on models that are not classifiers: a regression prints its numbers, an
image-shaped output becomes a PNG, anything else a .npy file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from netlang.cli import main
from netlang.runtime.outputs import write_outputs

REGRESSION = """
model Line {
    input x: float32[N, 2]
    y = x -> linear(1)
    output y
}
train Line {
    task      regression
    data      csv("line.csv", label="y", split=[0.8, 0.1, 0.1])
    normalize none
    epochs    40
    batch     16
    optimizer adam(lr=5e-2)
}
"""


def test_image_outputs_become_pngs_and_others_npy_files(tmp_path: Path) -> None:
    images = np.linspace(0, 1, 2 * 16).reshape(2, 1, 4, 4).astype(np.float32)
    written = write_outputs(images, ["a.npy", "b.npy"], tmp_path)
    assert [p.name for p in written] == ["a.output.png", "b.output.png"]
    assert np.asarray(Image.open(written[1])).max() == 255
    vectors = write_outputs(np.ones((1, 7), np.float32), ["c"], tmp_path)
    assert np.load(vectors[0]).shape == (7,)


def test_rows_of_one_array_file_and_same_named_files_each_get_their_own_output(
    tmp_path: Path,
) -> None:
    images = np.stack([np.full((1, 4, 4), v, np.float32) for v in (0.0, 0.5, 1.0, 0.25)])
    names = ["b.npy[0]", "b.npy[1]", "one/x.png", "two/x.png"]
    written = write_outputs(images, names, tmp_path)
    assert [p.name for p in written] == [
        "b-0.output.png",
        "b-1.output.png",
        "x.output.png",
        "x-2.output.png",
    ]
    means = [np.asarray(Image.open(p)).mean() for p in written]
    assert means == [0.0, 128.0, 255.0, 64.0]  # each file holds its own row


@pytest.mark.slow
@pytest.mark.parametrize("normalize", ["none", "standardize"])
def test_a_regression_trains_and_predict_prints_its_number(tmp_path: Path, normalize: str) -> None:
    """With `standardize`, predict takes the raw features and applies the run's statistics."""
    rng = np.random.default_rng(0)
    x = rng.random((200, 2))
    rows = "\n".join(f"{a:.4f},{b:.4f},{3 * a - 2 * b + 1:.4f}" for a, b in x)
    (tmp_path / "line.csv").write_text("a,b,y\n" + rows + "\n")
    source = REGRESSION.replace("normalize none", f"normalize {normalize}")
    (tmp_path / "line.net").write_text(source)
    runner = CliRunner()
    run, onnx = tmp_path / "run", tmp_path / "line.onnx"
    trained = runner.invoke(main, ["train", str(tmp_path / "line.net"), "--out", str(run), "-q"])
    assert trained.exit_code == 0, trained.output
    assert "r2" in trained.output
    assert runner.invoke(main, ["export", str(run), "-o", str(onnx)]).exit_code == 0
    np.save(tmp_path / "point.npy", np.array([0.9, 0.1], np.float32))  # far from the mean
    answer = runner.invoke(main, ["predict", str(onnx), str(tmp_path / "point.npy")])
    assert answer.exit_code == 0, answer.output
    value = float(answer.output.strip().split(": ")[-1])
    assert value == pytest.approx(3 * 0.9 - 2 * 0.1 + 1, abs=0.15)
