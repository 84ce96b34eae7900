"""examples/transfer_cifar.net end to end through the CLI, with a torchvision resnet18 state_dict
made here (random init, no download) and CIFAR-10 binary batches of random pixels in the layout
the download unpacks: import, replace fc, freeze, two stages, export, predict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netlang.cli import main
from tests.data.test_download import _cifar_archive

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "transfer_cifar.net"
CIFAR_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


@pytest.mark.slow
def test_a_torchvision_checkpoint_fine_tunes_exports_and_predicts_the_new_classes(
    shared_data: Path, tmp_path: Path
) -> None:
    import onnx
    import torch
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    source = EXAMPLE.read_text()
    data = 'cifar10(root="data/cifar10", download=true, split=[0.9, 0.1])'
    assert data in source
    (tmp_path / "data" / "cifar10").mkdir(parents=True)  # as a download leaves it
    _cifar_archive(tmp_path / "data" / "cifar10" / "cifar-10-binary.tar.gz")
    (tmp_path / "transfer_cifar.net").write_text(
        source.replace(data, 'cifar10(root="data/cifar10", split=[0.8, 0.2], limit=50)')
    )
    runner, run = CliRunner(), tmp_path / "run"

    trained = runner.invoke(
        main, ["train", str(tmp_path / "transfer_cifar.net"), "--epochs", "1", "--out", str(run)]
    )
    assert trained.exit_code == 0, trained.output
    lines = trained.output.splitlines()
    assert lines[0].endswith("resnet18.pth (PyTorch state_dict)")
    # fc: 512*10 + 10 = 5,130 new; torchvision's 1000-way fc is unused; the rest all loaded
    rows = {line.split()[0]: line.split() for line in lines[2:12]}
    assert rows["fc"] == ["fc", "5,130", "0", "5,130", "0/5,130", "0/5,130"]
    assert rows["conv1"] == ["conv1", "9,408", "9,408", "0", "9,408/0", "0/9,408"]  # 64*3*7*7
    total = rows["total"]
    assert total[:4] == ["total", "11,181,642", "11,176,512", "5,130"]
    assert total[4] == "11,176,512/5,130" and total[5] == "0/11,181,642"
    assert "replaced (new head), not loaded (2): fc.weight, fc.bias" in trained.output
    assert "unused checkpoint keys" not in trained.output
    assert "stage 2/2 finetune: 1 epochs, sgd lr 0.001" in trained.output
    assert json.loads((run / "config.json").read_text())["classes"] == CIFAR_CLASSES

    exported = runner.invoke(main, ["export", str(run), "-o", str(tmp_path / "m.onnx")])
    assert exported.exit_code == 0, exported.output
    metadata = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert json.loads(metadata["netlang.classes"]) == CIFAR_CLASSES

    image = shared_data / "cifar10_jpg" / "test" / "ship" / "0000.jpg"
    predicted = runner.invoke(
        main, ["predict", str(tmp_path / "m.onnx"), str(image), "--top-k", "3", "--device", "cpu"]
    )
    assert predicted.exit_code == 0, predicted.output
    shown = predicted.output.splitlines()[-3:]  # "probability  label", best first
    assert len({line.split()[1] for line in shown} & set(CIFAR_CLASSES)) == 3, predicted.output
