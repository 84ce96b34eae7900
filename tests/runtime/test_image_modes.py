"""An image's mode is converted one way for training data and prediction (netlang.imaging):
transparency composited onto white, so a drawing whose alpha is its ink stays a drawing (PIL's
plain convert drops alpha: black ink on transparent black became all black). `predict` says
when it converted a file's mode. Reference: the alpha-compositing formula, by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from runtime_models import save_image_classifier

from netlang.cli import main
from netlang.data import load_data
from netlang.imaging import convert_mode
from netlang.runtime.preprocess import image_to_array
from netlang.runtime.session import Preprocess
from netlang.semantics.train_spec import Call


def _drawing(alpha: int = 255) -> Image.Image:
    """Black ink drawn as alpha on a fully transparent black canvas, as paint programs save it."""
    pixels = np.zeros((6, 8, 4), np.uint8)
    pixels[2:4, 1:7, 3] = alpha
    return Image.fromarray(pixels, "RGBA")


@pytest.mark.parametrize("alpha", [255, 128])
def test_a_transparent_drawing_is_ink_on_white_not_all_black(alpha: int) -> None:
    grey, note = convert_mode(_drawing(alpha), "L")
    pixels = np.asarray(grey, np.int16)
    expected = np.full((6, 8), 255, np.int16)
    expected[2:4, 1:7] = round(255 * (1 - alpha / 255))  # a*ink + (1 - a)*white, ink = 0
    assert np.abs(pixels - expected).max() <= 1
    assert note == "RGBA -> L, transparency composited onto white"


def test_an_image_already_in_mode_is_left_as_it_is() -> None:
    image = Image.new("L", (3, 3), 7)
    assert convert_mode(image, "L") == (image, None)
    assert convert_mode(Image.new("RGB", (3, 3)), "L")[1] == "RGB -> L"


def test_predict_sees_the_pixels_image_folder_trains_on(tmp_path: Path) -> None:
    for name in ("ink", "other"):
        (tmp_path / name).mkdir()
        _drawing(200).save(tmp_path / name / "0.png")
    splits = load_data(Call("image_folder", (str(tmp_path),), {"channels": 1, "split": 1.0}))
    recipe = Preprocess((6, 8), 1, (0.0,), (1.0,))
    with Image.open(tmp_path / "ink" / "0.png") as image:
        predicted = image_to_array(image, recipe)
    np.testing.assert_array_equal(splits.train.x[0], predicted)
    assert predicted.max() == 1.0 and predicted.min() < 0.25  # white page, dark ink


def test_predict_says_when_it_converts_an_image_mode(tmp_path: Path) -> None:
    model = save_image_classifier(tmp_path / "tiny.onnx")
    _drawing().save(tmp_path / "drawing.png")
    Image.new("RGB", (8, 6)).save(tmp_path / "photo.png")
    args = ["predict", str(model), str(tmp_path / "drawing.png"), str(tmp_path / "photo.png")]
    result = CliRunner().invoke(main, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "note: drawing.png: RGBA -> RGB, transparency composited onto white "
        "for the model's 3-channel input"
    ]


def test_predict_on_a_folder_notes_each_kind_of_conversion_once_and_each_file_with_v(
    tmp_path: Path,
) -> None:
    model = save_image_classifier(tmp_path / "grey.onnx", channels=1)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 6), (40 * i, 0, 0)).save(folder / f"photo{i}.png")
    _drawing().save(folder / "zdrawing.png")
    Image.new("L", (8, 6)).save(folder / "grey.png")
    (folder / "readme.md").write_text("not an image")
    run = ["predict", str(model), str(folder), "--device", "cpu"]
    result = CliRunner().invoke(main, run)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "note: 3 images: RGB -> L for the model's 1-channel input (-v names them)",
        "note: zdrawing.png: RGBA -> L, transparency composited onto white "
        "for the model's 1-channel input",
    ]
    named = [line for line in result.stdout.splitlines() if line.startswith(str(folder))]
    assert named == [
        str(folder / f)
        for f in ("grey.png", "photo0.png", "photo1.png", "photo2.png", "zdrawing.png")
    ]
    verbose = CliRunner().invoke(main, [*run, "-v"])
    assert verbose.exit_code == 0, verbose.output
    assert verbose.stderr.splitlines()[:3] == [
        f"note: photo{i}.png: RGB -> L for the model's 1-channel input" for i in range(3)
    ]
    assert len(verbose.stderr.splitlines()) == 4


def test_predict_on_a_folder_without_images_says_so(tmp_path: Path) -> None:
    model = save_image_classifier(tmp_path / "tiny.onnx")
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["predict", str(model), str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "empty: a folder without a file predict reads (" in result.output


def _sixteen_bit_ramp(tmp_path: Path) -> Path:
    path = tmp_path / "ramp16.png"
    Image.fromarray(np.linspace(0, 65535, 48).reshape(6, 8).astype(np.uint16)).save(path)
    with Image.open(path) as image:
        assert image.mode == "I;16"  # what PIL opens a 16-bit grey PNG as
    return path


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped_white(tmp_path: Path, mode: str) -> None:
    with Image.open(_sixteen_bit_ramp(tmp_path)) as image:
        converted, note = convert_mode(image, mode)
    pixels = np.asarray(converted, np.int16).reshape(6, 8, -1)
    expected = np.rint(np.linspace(0, 65535, 48) / 257).reshape(6, 8, 1)  # by hand
    assert np.abs(pixels - expected).max() == 0
    assert note == f"I;16 -> {mode}, 16-bit values scaled to 8 bits"


def test_predict_and_image_folder_read_a_16_bit_png_alike(tmp_path: Path) -> None:
    for name in ("ramp", "other"):
        (tmp_path / name).mkdir()
        _sixteen_bit_ramp(tmp_path / name)
    splits = load_data(Call("image_folder", (str(tmp_path),), {"channels": 1, "split": 1.0}))
    with Image.open(tmp_path / "ramp" / "ramp16.png") as image:
        predicted = image_to_array(image, Preprocess((6, 8), 1, (0.0,), (1.0,)))
    np.testing.assert_array_equal(splits.train.x[0], predicted)
    assert 0.4 < predicted.mean() < 0.6  # a ramp, not a white page


@pytest.mark.parametrize("size", [(32, 32), (20, 13)], ids=["enlarged", "shrunk"])
def test_predict_resizes_a_png_as_array_data_sets_are_resized_in_training(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    from netlang.data.dataset import image_dataset

    digit = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(digit).save(tmp_path / "digit.png")
    trained = image_dataset(
        digit[None, None].astype(np.float32) / 255, np.zeros(1, np.int64), size=size, flatten=False
    ).x[0]  # how mnist(size=...), idx and cifar10 resize
    with Image.open(tmp_path / "digit.png") as image:
        predicted = image_to_array(image, Preprocess(size, 1, (0.0,), (1.0,)))
    np.testing.assert_allclose(predicted, trained, atol=1e-6)  # 8-bit resizing was 1/255 off
