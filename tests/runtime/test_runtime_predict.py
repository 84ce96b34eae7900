"""`netlang predict` and the runtime under it: PNG and .npy inputs, preprocessing from the model's
metadata, softmax and top-k, device choice. References: torchvision's transforms for the image
pipeline, torch.softmax for probabilities, onnxruntime for models that already output them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from runtime_models import CLASSES, MEAN, STD, WEIGHT, H, W, save_image_classifier
from torchvision import transforms

from netlang.cli import main
from netlang.runtime import load_input, make_session, model_info, predict
from netlang.runtime.device import CUDA, provider_usable


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_image_classifier(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (9, 13, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory, pixels: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("img") / "picture.png"
    Image.fromarray(pixels).save(path)
    return path


def reference_probabilities(pixels: np.ndarray, normalize: bool = True) -> np.ndarray:
    steps = [  # resized as floats, as training resizes its data sets (not as 8-bit pixels)
        transforms.ToTensor(),
        transforms.Resize((H, W), transforms.InterpolationMode.BILINEAR, antialias=True),
    ]
    if normalize:
        steps.append(transforms.Normalize(MEAN, STD))
    x = transforms.Compose(steps)(Image.fromarray(pixels))
    logits = x.reshape(1, -1).double() @ torch.from_numpy(WEIGHT).double()
    return torch.softmax(logits, dim=1)[0].numpy()


def test_png_top_k_matches_torchvision_preprocessing_and_softmax(
    model: Path, png: Path, pixels: np.ndarray
) -> None:
    session = make_session(model, "cpu")
    info = model_info(session)
    (row,) = predict(session, info, load_input(png, info), k=3)
    want = reference_probabilities(pixels)
    order = np.argsort(-want)[:3]
    assert [g.label for g in row] == [CLASSES[i] for i in order]
    np.testing.assert_allclose([g.probability for g in row], want[order], rtol=1e-4, atol=1e-6)


def test_npy_tensor_is_fed_as_the_model_input(model: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(6).standard_normal((2, 3, H, W)).astype(np.float32)
    np.save(tmp_path / "batch.npy", x)
    session = make_session(model, "cpu")
    info = model_info(session)
    rows = predict(session, info, load_input(tmp_path / "batch.npy", info), k=5)
    want = torch.softmax(
        torch.from_numpy(x.reshape(2, -1)).double() @ torch.from_numpy(WEIGHT).double(), 1
    )
    for row, probs in zip(rows, want.numpy(), strict=True):
        np.testing.assert_allclose([g.probability for g in row], np.sort(probs)[::-1], rtol=1e-4)


def test_uint8_npy_picture_goes_through_the_image_pipeline(
    model: Path, tmp_path: Path, pixels: np.ndarray
) -> None:
    np.save(tmp_path / "picture.npy", pixels)
    session = make_session(model, "cpu")
    info = model_info(session)
    (row,) = predict(session, info, load_input(tmp_path / "picture.npy", info), k=5)
    want = reference_probabilities(pixels)
    np.testing.assert_allclose(
        [g.probability for g in row], np.sort(want)[::-1], rtol=1e-4, atol=1e-6
    )


def test_probability_outputs_are_not_softmaxed_again(tmp_path: Path) -> None:
    path = save_image_classifier(tmp_path / "soft.onnx", softmax=True)
    x = np.random.default_rng(7).standard_normal((1, 3, H, W)).astype(np.float32)
    session = make_session(path, "cpu")
    (probs,) = session.run(None, {"image": x})
    (row,) = predict(session, model_info(session), x, k=5)
    np.testing.assert_allclose([g.probability for g in row], np.sort(probs[0])[::-1], rtol=1e-5)


def test_without_metadata_labels_are_indices_and_images_are_only_scaled(
    tmp_path: Path, png: Path, pixels: np.ndarray
) -> None:
    path = save_image_classifier(tmp_path / "bare.onnx", metadata=False)
    session = make_session(path, "cpu")
    info = model_info(session)
    (row,) = predict(session, info, load_input(png, info), k=5)
    want = reference_probabilities(pixels, normalize=False)
    assert [g.label for g in row] == [str(i) for i in np.argsort(-want)]
    np.testing.assert_allclose(
        [g.probability for g in row], np.sort(want)[::-1], rtol=1e-4, atol=1e-6
    )


def test_npy_of_the_wrong_shape_is_refused(model: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "bad.npy", np.zeros((3, H + 1, W), np.float32))
    info = model_info(make_session(model, "cpu"))
    with pytest.raises(ValueError, match=r"does not fit input 'image'"):
        load_input(tmp_path / "bad.npy", info)


def test_malformed_preprocess_metadata_is_reported(tmp_path: Path) -> None:
    path = save_image_classifier(tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    for prop in proto.metadata_props:
        if prop.key == "netlang.preprocess":
            prop.value = '{"size": [4]}'
    onnx.save(proto, str(path))
    with pytest.raises(ValueError, match="netlang.preprocess"):
        model_info(make_session(path, "cpu"))


def test_cli_json_output_names_provider_labels_and_probabilities(
    model: Path, png: Path, pixels: np.ndarray
) -> None:
    result = CliRunner().invoke(
        main, ["predict", str(model), str(png), "--json", "--top-k", "2", "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["provider"] == "CPUExecutionProvider"
    (prediction,) = document["predictions"]
    want = reference_probabilities(pixels)
    order = np.argsort(-want)[:2]
    assert prediction["input"] == str(png)
    assert [t["label"] for t in prediction["top"]] == [CLASSES[i] for i in order]
    np.testing.assert_allclose(
        [t["probability"] for t in prediction["top"]], want[order], rtol=1e-4
    )


def test_cli_text_output_lists_each_input(model: Path, png: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "two.npy", np.zeros((2, 3, H, W), np.float32))
    result = CliRunner().invoke(
        main, ["predict", str(model), str(png), str(tmp_path / "two.npy"), "--top-k", "1"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("provider: ")
    assert [line for line in lines if not line.startswith(" ")][1:] == [
        str(png),
        f"{tmp_path / 'two.npy'}[0]",
        f"{tmp_path / 'two.npy'}[1]",
    ]


@pytest.mark.skipif(provider_usable(CUDA), reason="this host can run CUDA")
def test_cuda_request_on_a_host_without_cuda_is_an_error_not_a_fallback(
    model: Path, png: Path
) -> None:
    result = CliRunner().invoke(main, ["predict", str(model), str(png), "--device", "cuda"])
    assert result.exit_code == 1
    assert "CUDA is not usable" in result.output


def test_auto_device_probe_prints_nothing(model: Path) -> None:
    code = (
        "from netlang.runtime import make_session; "
        f"print(make_session({str(model)!r}, 'auto').get_providers()[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    want = "CUDAExecutionProvider" if provider_usable(CUDA) else "CPUExecutionProvider"
    assert done.stdout.strip() == want


def test_a_file_named_like_an_image_that_is_none_is_said_so(model: Path, tmp_path: Path) -> None:
    (tmp_path / "digit.png").write_text("not a picture")
    result = CliRunner().invoke(main, ["predict", str(model), str(tmp_path / "digit.png")])
    assert result.exit_code == 1 and "internal error" not in result.output
    assert "digit.png: not an image Pillow can read" in result.output


def test_a_missing_file_for_an_image_model_is_said_so_and_a_sentence_is_told_why(
    model: Path, tmp_path: Path
) -> None:
    missing = CliRunner().invoke(main, ["predict", str(model), str(tmp_path / "digit.png")])
    assert missing.exit_code == 1 and missing.output.strip().endswith("digit.png: no such file")
    sentence = CliRunner().invoke(main, ["predict", str(model), "hola que tal"])
    assert "sentences are for a model trained on text; this one was not" in sentence.output
