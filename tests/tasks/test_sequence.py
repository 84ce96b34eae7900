"""Sequence labelling (a class per time step): the shipped digit-strip data is what its script
says, `check` refuses a model without a time axis at the `task` line, and a tagger trains on
[N, T] targets, reports per-class scores over tokens, exports, and `predict` prints a tag per
step."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner

from netlang.cli import main

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"

TAGGER = """
model Tagger {
    input columns: float32[N, 24, 8]
    tags = columns -> gru(24, bidirectional=true) -> linear(10)
    output tags
}
train Tagger {
    task      sequence
    normalize none
    data      npz("strips.npz", split=[0.6, 0.2, 0.2])
    epochs    4
    batch     16
    optimizer adam(lr=1e-2)
    seed      0
}
"""


def test_the_shipped_strips_are_the_digits_three_at_a_time() -> None:
    x, y = runpy.run_path(str(DATA / "make_digit_strips.py"))["digit_strips"]()
    with np.load(DATA / "digit_strips.npz") as shipped:
        np.testing.assert_array_equal(shipped["x"], x)
        np.testing.assert_array_equal(shipped["y"], y)
    assert x.shape == (599, 24, 8) and y.shape == (599, 24)
    assert (y[:, :8] == y[:, :1]).all()  # the 8 columns of a digit share its tag


def test_check_refuses_a_sequence_task_on_a_model_without_a_time_axis(tmp_path: Path) -> None:
    source = TAGGER.replace("-> linear(10)", "-> select(axis=1, index=-1) -> linear(10)")
    (tmp_path / "t.net").write_text(source)
    result = CliRunner().invoke(main, ["check", str(tmp_path / "t.net")])
    assert result.exit_code != 0
    assert "t.net:8:5" in result.output and "NL2005" in result.output  # the `task` line
    assert "[N, T, classes]" in result.output


@pytest.mark.slow
def test_a_tagger_trains_reports_tokens_and_predicts_a_tag_per_step(tmp_path: Path) -> None:
    with np.load(DATA / "digit_strips.npz") as shipped:
        x, y = shipped["x"][:150], shipped["y"][:150]
    np.savez(tmp_path / "strips.npz", x=x, y=y)
    (tmp_path / "tagger.net").write_text(TAGGER)
    runner = CliRunner()
    run, onnx_file = tmp_path / "run", tmp_path / "tagger.onnx"
    trained = runner.invoke(main, ["train", str(tmp_path / "tagger.net"), "--out", str(run), "-q"])
    assert trained.exit_code == 0, trained.output
    test = json.loads((run / "test.json").read_text())
    assert test["task"] == "sequence" and test["examples"] == 30 and test["tokens"] == 30 * 24
    assert sum(c["support"] for c in test["per_class"].values()) == 30 * 24
    assert test["accuracy"] > 0.3  # chance is 0.1
    assert (run / "confusion.png").is_file() and (run / "confusion.txt").is_file()

    assert runner.invoke(main, ["export", str(run), "-o", str(onnx_file)]).exit_code == 0
    np.save(tmp_path / "strip.npy", x[0])
    answer = runner.invoke(main, ["predict", str(onnx_file), str(tmp_path / "strip.npy"), "--json"])
    assert answer.exit_code == 0, answer.output
    (prediction,) = json.loads(answer.output)["predictions"]
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (scores,) = session.run(None, {session.get_inputs()[0].name: x[:1]})
    assert prediction["tags"] == [str(i) for i in scores[0].argmax(-1)]
