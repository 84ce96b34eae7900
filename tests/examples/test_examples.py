"""The shipped examples: every examples/*.net compiles and passes its own tests, and LeNet-5 goes
end to end through the CLI (train one epoch -> export ONNX -> predict), its predictions checked
against a hand-written torch LeNet-5 holding the trained weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from netlang.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.net")), ids=lambda p: p.name)
def test_example_passes_check(path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert ": ok" in result.output


def _hand_lenet() -> object:
    """examples/lenet.net written with torch.nn; nn.Sequential's indices are the file's names."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.Tanh(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )


@pytest.mark.slow
def test_lenet_trains_exports_and_predicts_through_the_cli(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on a shared 2-core machine: one thread is faster
    try:
        run, onnx_file = tmp_path / "run", tmp_path / "lenet.onnx"
        trained = CliRunner().invoke(
            main,
            [
                "train",
                str(EXAMPLES / "lenet.net"),
                "--epochs",
                "1",
                "--batch",
                "64",
                "--out",
                str(run),
            ],
        )
        assert trained.exit_code == 0, trained.output
        test = json.loads((run / "test.json").read_text())
        assert test["examples"] == 269 and test["accuracy"] > 0.5  # 1 epoch learns a lot

        exported = CliRunner().invoke(main, ["export", str(run), "-o", str(onnx_file)])
        assert exported.exit_code == 0, exported.output

        image = np.random.default_rng(0).normal(size=(1, 32, 32)).astype(np.float32)
        np.save(tmp_path / "image.npy", image)
        predicted = CliRunner().invoke(
            main,
            ["predict", str(onnx_file), str(tmp_path / "image.npy"), "--top-k", "10", "--json"],
        )
        assert predicted.exit_code == 0, predicted.output

        reference = _hand_lenet()
        reference.load_state_dict(load_file(run / "checkpoints" / "best.safetensors"))
        # the ONNX takes pixels and standardises in the graph; the reference does it by hand
        stats = json.loads((run / "config.json").read_text())["normalization"]
        standardized = (image[None] - np.float32(stats["mean"][0])) / np.float32(stats["std"][0])
        with torch.no_grad():
            probabilities = torch.softmax(reference(torch.from_numpy(standardized)), 1)[0]
    finally:
        torch.set_num_threads(threads)
    document = json.loads(predicted.output)
    got = {g["label"]: g["probability"] for g in document["predictions"][0]["top"]}
    assert got == pytest.approx({str(c): float(p) for c, p in enumerate(probabilities)}, abs=1e-5)


def test_regularization_sections_differ_only_in_the_regulariser() -> None:
    import netlang
    from netlang.train.config import resolve_config

    program = netlang.load(EXAMPLES / "mlp_regularization.net")
    configs = {
        name: resolve_config(program.model(name).train, name).to_json()
        for name in ("MLPPlain", "MLPL2", "MLPDropout", "MLPEarlyStop")
    }
    differing = {
        name: sorted(k for k in config if k != "model" and config[k] != configs["MLPPlain"][k])
        for name, config in configs.items()
    }
    assert differing == {
        "MLPPlain": [],
        "MLPL2": ["penalties"],
        "MLPDropout": [],
        "MLPEarlyStop": ["early_stop"],
    }
    assert configs["MLPL2"]["penalties"] == [{"kind": "l2", "strength": 0.1}]
