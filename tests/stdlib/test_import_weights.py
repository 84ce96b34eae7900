"""`netlang import-weights`: a torchvision state_dict saved to a .pth file becomes a safetensors
checkpoint holding exactly that state_dict, which `netlang compile --weights` turns into ONNX that
computes what torchvision does; a file that does not fit is refused with every
missing, unexpected and mis-shaped key named; targets resolve by stdlib name or by file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchvision.models as tv
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import load_file

from netlang.cli import main
from netlang.export.weights_import import ImportProblem, resolve_target


@pytest.fixture(scope="module")
def resnet18_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return tv.resnet18(num_classes=10).state_dict()


def _import(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["import-weights", *args])
    return result.exit_code, result.output


def test_fitting_state_dict_is_written_unchanged_as_safetensors(
    tmp_path: Path, resnet18_state: dict[str, torch.Tensor]
) -> None:
    torch.save(resnet18_state, tmp_path / "resnet18.pth")
    out = tmp_path / "resnet18.safetensors"
    code, output = _import(
        str(tmp_path / "resnet18.pth"),
        "--into",
        "stdlib:resnet18",
        "--set",
        "classes=10",
        "-o",
        str(out),
    )
    assert code == 0, output
    written = load_file(str(out))
    assert sorted(written) == sorted(resnet18_state)  # safetensors stores keys sorted
    assert all(torch.equal(written[k], v) for k, v in resnet18_state.items())
    with safe_open(str(out), "pt") as f:
        assert f.metadata()["netlang.model"] == "ResNet18"
        assert '"classes": 10' in f.metadata()["netlang.arguments"]


def test_imported_checkpoint_compiles_to_onnx_that_matches_torchvision(
    tmp_path: Path, resnet18_state: dict[str, torch.Tensor]
) -> None:
    torch.save(resnet18_state, tmp_path / "resnet18.pth")
    weights, onnx_file = tmp_path / "resnet18.safetensors", tmp_path / "resnet18.onnx"
    assert (
        _import(
            str(tmp_path / "resnet18.pth"),
            "--into",
            "stdlib:resnet18",
            "--set",
            "classes=10",
            "-o",
            str(weights),
        )[0]
        == 0
    )
    source = str(Path(__file__).resolve().parents[2] / "stdlib" / "resnet.net")
    result = CliRunner().invoke(
        main,
        [
            "compile",
            source,
            "--model",
            "ResNet18",
            "--set",
            "classes=10",
            "--set",
            "size=64",
            "--weights",
            str(weights),
            "-o",
            str(onnx_file),
        ],
    )
    assert result.exit_code == 0, result.output
    reference = tv.resnet18(num_classes=10).eval()
    reference.load_state_dict(resnet18_state)
    image = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": image.numpy()})
    with torch.no_grad():
        assert np.abs(got - reference(image).numpy()).max() <= 1e-4


def test_every_problem_key_is_named_and_the_exit_status_is_1(
    tmp_path: Path, resnet18_state: dict[str, torch.Tensor]
) -> None:
    state = dict(resnet18_state)
    del state["fc.bias"], state["layer4.1.bn2.running_var"]
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    state["head.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "broken.pth")
    code, output = _import(
        str(tmp_path / "broken.pth"),
        "--into",
        "stdlib:ResNet18",
        "--set",
        "classes=10",
        "-o",
        str(tmp_path / "out.safetensors"),
    )
    assert code == 1
    assert "missing key: fc.bias" in output
    assert "missing key: layer4.1.bn2.running_var" in output
    assert (
        "shape mismatch: layer1.0.conv1.weight: model expects [64, 64, 3, 3], "
        "file has [64, 64, 1, 1]"
    ) in output
    assert "unexpected key: head.weight" in output
    assert not (tmp_path / "out.safetensors").exists()


def test_wrong_class_count_shows_as_mismatched_head(
    tmp_path: Path, resnet18_state: dict[str, torch.Tensor]
) -> None:
    torch.save(resnet18_state, tmp_path / "resnet18.pth")
    code, output = _import(
        str(tmp_path / "resnet18.pth"),
        "--into",
        "stdlib:resnet18",
        "-o",
        str(tmp_path / "out.safetensors"),
    )
    assert code == 1
    assert "shape mismatch: fc.weight: model expects [1000, 512], file has [10, 512]" in output


def test_training_checkpoint_wrapping_the_state_dict_is_unwrapped(
    tmp_path: Path, resnet18_state: dict[str, torch.Tensor]
) -> None:
    torch.save({"epoch": 3, "state_dict": resnet18_state}, tmp_path / "wrapped.pth")
    code, output = _import(
        str(tmp_path / "wrapped.pth"),
        "--into",
        "stdlib:resnet18",
        "--set",
        "classes=10",
        "-o",
        str(tmp_path / "out.safetensors"),
    )
    assert code == 0, output


def test_pre_1_0_checkpoint_without_num_batches_tracked_still_fits(tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = {
        k: v
        for k, v in tv.resnet18(num_classes=3).state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    torch.save(state, tmp_path / "old.pth")
    out = tmp_path / "out.safetensors"
    code, output = _import(
        str(tmp_path / "old.pth"), "--into", "stdlib:resnet18", "--set", "classes=3", "-o", str(out)
    )
    assert code == 0, output
    assert load_file(str(out))["bn1.num_batches_tracked"].item() == 0


def test_unknown_stdlib_model_is_a_usage_error_with_a_suggestion(tmp_path: Path) -> None:
    torch.save({}, tmp_path / "empty.pth")
    code, output = _import(
        str(tmp_path / "empty.pth"),
        "--into",
        "stdlib:resnet19",
        "-o",
        str(tmp_path / "out.safetensors"),
    )
    assert code == 2
    assert "ResNet18" in output


def test_file_that_is_not_a_state_dict_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    code, output = _import(
        str(tmp_path / "notes.pth"),
        "--into",
        "stdlib:lenet5",
        "-o",
        str(tmp_path / "out.safetensors"),
    )
    assert code == 2
    assert "cannot read" in output


def test_targets_resolve_by_stdlib_name_or_by_file_and_model(tmp_path: Path) -> None:
    assert resolve_target("stdlib:vgg16_bn")[1] == "VGG16_BN"
    assert resolve_target("stdlib:LeNet5Modern")[1] == "LeNet5Modern"
    source = tmp_path / "mine.net"
    source.write_text(
        'import "lenet"\nmodel Tiny() {\n    input x: float32[N, 4]\n'
        "    y = x -> fc: linear(2)\n    output y\n}\n"
    )
    assert resolve_target(f"{source}:Tiny")[1] == "Tiny"
    assert resolve_target(str(source))[1] == "Tiny"
    with pytest.raises(ImportProblem, match="no model `Huge`"):
        resolve_target(f"{source}:Huge")
