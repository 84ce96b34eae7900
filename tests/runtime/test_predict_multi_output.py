"""`netlang predict` on a model with several outputs reports every one, by name, in the text
form, in --json and as files in --out. Reference: onnxruntime's own session.run of every output
on the same input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner
from PIL import Image
from runtime_models import H, W, save_three_output_model

from netlang.cli import main


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """The model, a one-picture .npy input, and onnxruntime's answer for every output."""
    folder = tmp_path_factory.mktemp("three")
    model = save_three_output_model(folder / "three.onnx")
    x = np.random.default_rng(3).standard_normal((3, H, W)).astype(np.float32)
    np.save(folder / "x.npy", x)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    reference = dict(zip(names, session.run(names, {"image": x[None]}), strict=True))
    return model, folder / "x.npy", reference


def test_json_reports_every_output_by_name_as_onnxruntime_computes_it(
    three: tuple[Path, Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    model, x, reference = three
    args = ["predict", str(model), str(x), "--json", "--out", str(tmp_path), "--top-k", "4"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert list(document["outputs"]) == ["recon", "code", "planes"]
    (planes,) = document["outputs"]["planes"]["outputs"]
    assert planes["input"] == str(x)
    np.testing.assert_array_equal(np.load(planes["file"]), reference["planes"][0])
    (recon,) = document["outputs"]["recon"]["outputs"]
    want = (np.clip(reference["recon"][0], 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(np.asarray(Image.open(recon["file"])), want)
    (code,) = document["outputs"]["code"]["predictions"]
    logits = reference["code"][0].astype(np.float64)
    softmax = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert [t["index"] for t in code["top"]] == list(np.argsort(-softmax))
    np.testing.assert_allclose(
        [t["probability"] for t in code["top"]], np.sort(softmax)[::-1], rtol=1e-5
    )


def test_text_labels_each_output_and_files_are_named_for_their_output(
    three: tuple[Path, Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    model, x, _ = three
    result = CliRunner().invoke(main, ["predict", str(model), str(x), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    headers = [line for line in result.output.splitlines() if line.startswith("output ")]
    assert headers == ["output recon:", "output code:", "output planes:"]
    assert f"  {x} -> {tmp_path / 'x.recon.png'}" in result.output.splitlines()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.planes.npy", "x.recon.png"]
