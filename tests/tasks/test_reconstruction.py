"""Reconstruction: target = input, noise on the input only and redrawn every epoch, the report
(error figures, reconstructions.png, codes.png) and the check-time shape rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import netlang
from netlang.data import DataSplits, Dataset, make_augment, make_loader
from netlang.diagnostics import CompileError
from netlang.semantics.train_spec import Call
from netlang.tasks import get_task
from netlang.train.run import train_file

AE = """
model AE {
    input image: float32[N, 1, 8, 8]
    code = image -> flatten -> linear(6)
    recon = code -> linear(64) -> sigmoid -> reshape([1, 8, 8])
    output recon, code
}

train AE {
    task      TASK
    data      digits(split=[0.7, 0.15, 0.15])
    normalize none
    augment   noise(0.2)
    batch     64
    epochs    3
    optimizer adam(lr=1e-2)
}
"""


def _splits() -> DataSplits:
    x = np.random.default_rng(0).random((12, 1, 4, 4), dtype=np.float32)
    data = Dataset(x, np.arange(12) % 3)
    return DataSplits(data, None, None, ["a", "b", "c"], (1, 4, 4))


def test_targets_are_the_clean_inputs_and_the_noise_is_redrawn_every_epoch() -> None:
    splits = get_task("reconstruction").prepare(_splits())
    assert splits.train.y is splits.train.x and list(splits.train.labels) == [0, 1, 2] * 4
    noise = make_augment([Call("noise", (), {"std": 0.5})])
    epochs = [
        next(iter(make_loader(splits.train, 12, shuffle=False, seed=0, epoch=e, augment=noise)))
        for e in (0, 1)
    ]
    for x, y in epochs:
        assert torch.equal(y, torch.as_tensor(splits.train.x))  # the target is never noisy
        assert not torch.allclose(x, y)
    assert not torch.allclose(epochs[0][0], epochs[1][0])  # fresh noise in the next epoch


@pytest.mark.slow
def test_a_denoising_autoencoder_reports_its_error_and_draws_its_pictures(tmp_path: Path) -> None:
    path = tmp_path / "ae.net"
    path.write_text(AE.replace("TASK", "reconstruction"))
    result = train_file(path, overrides={"out": str(tmp_path / "run")}, log=lambda _: None)
    run = result.run_dir
    test = json.loads((run / "test.json").read_text())
    assert test["task"] == "reconstruction"
    assert test["mse"] == pytest.approx(test["loss"], rel=1e-5) and 0 < test["mse"] < 0.2
    assert test["noisy_input_mse"] == pytest.approx(0.04, rel=0.15)  # noise(0.2): std^2
    assert (run / "reconstructions.png").is_file() and (run / "codes.png").is_file()
    rows = json.loads((run / "metrics.json").read_text())
    assert all(r["train_mae"] is not None and r["val_mae"] is not None for r in rows)
    assert json.loads((run / "config.json").read_text())["config"]["loss"]["name"] == "mse"


def test_check_locates_an_output_that_is_not_the_inputs_shape(tmp_path: Path) -> None:
    source = AE.replace("TASK", "reconstruction").replace("output recon, code", "output code")
    with pytest.raises(CompileError) as failure:
        netlang.load(source).model("AE")
    (diagnostic,) = [d for d in failure.value.diagnostics if d.severity.name == "ERROR"]
    assert "reconstruction" in diagnostic.message and "[N, 1, 8, 8]" in diagnostic.message
    assert (
        diagnostic.span.start.line == source.splitlines().index("    task      reconstruction") + 1
    )


def test_check_accepts_the_shipped_denoising_example() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "dae_digits.net"
    graph = netlang.load(example).model()
    assert graph.train.entries["task"] == Call("reconstruction")
    assert [o.type.shape for o in graph.outputs] == [("N", 1, 8, 8), ("N", 8)]
