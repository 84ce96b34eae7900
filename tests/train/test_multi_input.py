"""Models of several inputs train on an .npz of one array per input: the run's report scores what
`export` ships (onnxruntime, fed the raw arrays, answers the torch module and reproduces
test.json's accuracy), and `check` refuses, at the data line, what train could not feed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file

import netlang
from click.testing import CliRunner
from netlang.cli import main
from netlang.backends.torch_module import to_torch
from netlang.data import load_data, make_loader
from netlang.data.inputs import Inputs, arguments
from netlang.diagnostics import Diagnostic
from netlang.export.ship import load_trained, write_onnx
from netlang.semantics.train_spec import Call
from netlang.train.run import train_file

MODEL = """model TwoTower(classes: int = 3) {{
    input image: float32[N, 1, 8, 8]
    input features: float32[N, 3]
    a = image -> conv2d(4, 3, padding=1) -> relu -> flatten
    h = concat(a, features, axis=1) -> linear(16) -> relu -> linear(classes)
    output h
}}

train TwoTower {{
    data      {data}
    normalize standardize
    batch     16
    epochs    1
    seed      0{extra}
}}
"""


def _arrays(n: int = 60) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    image = rng.random((n, 1, 8, 8), dtype=np.float32) + y[:, None, None, None] * 0.3
    features = (rng.normal(size=(n, 3)) * 5 + 10 + y[:, None]).astype(np.float32)
    return {"image": image, "features": features, "y": y}


def _program(tmp_path: Path, data: str = 'npz("two.npz", split=[0.6, 0.2, 0.2])', extra: str = ""):
    path = tmp_path / "two.net"
    path.write_text(MODEL.format(data=data, extra=extra), encoding="utf-8")
    return path


def _check(path: Path) -> list[Diagnostic]:
    program = netlang.load(path)
    graph, diagnostics = program.build(None, fit=True)
    return [d for d in diagnostics if d.severity.name == "ERROR"]


def test_a_two_input_model_trains_and_its_onnx_scores_what_test_json_reports(
    tmp_path: Path,
) -> None:
    np.savez(tmp_path / "two.npz", **_arrays())
    net = _program(tmp_path)
    assert _check(net) == []
    result = train_file(
        net, overrides={"out": str(tmp_path / "run")}, log=lambda _: None, quiet=True
    )
    assert len(result.history) == 1 and result.test is not None
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["input_shapes"] == {"image": [1, 8, 8], "features": [3]}
    assert config["config"]["inputs"] == ["image", "features"]
    assert set(config["normalization"]["inputs"]) == {"image", "features"}

    onnx_path = write_onnx(load_trained(tmp_path / "run"), tmp_path / "m.onnx")
    split = Call("npz", ("two.npz",), {"split": [0.6, 0.2, 0.2]})
    raw = load_data(split, seed=0, base_dir=tmp_path, inputs=["image", "features"]).test
    assert raw is not None and isinstance(raw.x, Inputs)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, dict(raw.x.arrays))  # raw arrays: standardised in the graph

    graph = netlang.load(net).model()
    module = to_torch(graph)
    test = json.loads((tmp_path / "run" / "test.json").read_text())
    module.load_state_dict(
        load_file(str(tmp_path / "run/checkpoints" / f"{test['checkpoint']}.safetensors"))
    )
    module.eval()
    statistics = config["normalization"]["inputs"]
    scaled = {
        name: (a - np.reshape(statistics[name]["mean"], (1, -1) + (1,) * (a.ndim - 2)))
        / np.reshape(statistics[name]["std"], (1, -1) + (1,) * (a.ndim - 2))
        for name, a in raw.x.arrays.items()
    }
    with torch.no_grad():
        expected = module(*(torch.from_numpy(scaled[n].astype(np.float32)) for n in raw.x.names))
    np.testing.assert_allclose(logits, expected.numpy(), atol=1e-5, rtol=1e-5)
    accuracy = float((logits.argmax(1) == raw.y).mean())  # by hand, from the ONNX outputs
    assert test["accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert test["examples"] == len(raw.y) == 12

    np.savez(tmp_path / "samples.npz", **raw.x.arrays)  # predict takes what train read
    shown = CliRunner().invoke(
        main, ["predict", str(onnx_path), str(tmp_path / "samples.npz"), "--json"]
    )
    assert shown.exit_code == 0, shown.output
    top = [row["top"][0]["index"] for row in json.loads(shown.output)["predictions"]]
    assert top == logits.argmax(1).tolist()


def test_a_resumed_two_input_run_ends_with_the_uninterrupted_weights(tmp_path: Path) -> None:
    """Early stopping watches the val split and the resumed run replays the same batches."""
    np.savez(tmp_path / "two.npz", **_arrays())
    net = _program(tmp_path, extra="\n    early_stop monitor=val_accuracy patience=5")
    quiet = {"log": lambda _: None, "quiet": True}
    train_file(net, overrides={"out": str(tmp_path / "whole"), "epochs": 2}, **quiet)
    train_file(net, overrides={"out": str(tmp_path / "cut"), "epochs": 1}, **quiet)
    resumed = train_file(
        net, overrides={"out": str(tmp_path / "cut"), "epochs": 2}, resume=True, **quiet
    )
    assert [row["epoch"] for row in resumed.history] == [1, 2]
    whole, cut = (
        load_file(str(tmp_path / r / "checkpoints/last.safetensors")) for r in ("whole", "cut")
    )
    assert all(torch.equal(whole[k], cut[k]) for k in whole)


def test_the_loader_batches_every_input_with_the_same_samples() -> None:
    arrays = _arrays(10)
    x = Inputs({"image": arrays["image"], "features": arrays["features"]})
    from netlang.data import Dataset

    batches = list(make_loader(Dataset(x, arrays["y"]), 4, shuffle=True, seed=3))
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    for xb, yb in batches:
        image, features = arguments(xb)
        for row in range(len(yb)):  # find each batch row's sample by its features
            (index,) = np.flatnonzero((arrays["features"] == features[row].numpy()).all(1))
            assert np.array_equal(arrays["image"][index], image[row].numpy())
            assert arrays["y"][index] == int(yb[row])


def test_image_augments_move_only_the_image_input() -> None:
    from netlang.data import make_augment

    augment = make_augment([Call("hflip", (), {"p": 1.0})])
    image, features = torch.arange(8.0).view(1, 1, 2, 4), torch.arange(3.0).view(1, 3)
    flipped, same = augment((image, features), torch.Generator().manual_seed(0))
    assert torch.equal(flipped, image.flip(-1)) and torch.equal(same, features)


def test_a_missing_array_is_located_at_the_data_path(tmp_path: Path) -> None:
    arrays = _arrays(10)
    np.savez(tmp_path / "two.npz", image=arrays["image"], feats=arrays["features"], y=arrays["y"])
    (found,) = _check(_program(tmp_path))
    assert found.code == "NL2054" and (found.span.start.line, found.span.start.column) == (10, 19)
    assert "no array 'features' for the input features (it has feats, image, y)" in found.message


def test_arrays_listed_by_x_feed_the_inputs_in_order(tmp_path: Path) -> None:
    arrays = _arrays(10)
    np.savez(tmp_path / "two.npz", pixels=arrays["image"], meta=arrays["features"], y=arrays["y"])
    data = 'npz("two.npz", x=["pixels", "meta"], split=[0.6, 0.2, 0.2])'
    assert _check(_program(tmp_path, data)) == []
    loaded = load_data(
        Call("npz", ("two.npz",), {"x": ["pixels", "meta"]}),
        base_dir=tmp_path,
        inputs=["image", "features"],
    )
    assert loaded.input_shapes == {"image": (1, 8, 8), "features": (3,)}


def test_an_array_of_another_shape_is_located_at_the_data_path(tmp_path: Path) -> None:
    arrays = _arrays(10)
    np.savez_compressed(tmp_path / "two.npz", **{**arrays, "features": arrays["features"][:, :2]})
    (found,) = _check(_program(tmp_path))
    assert found.code == "NL2054" and found.span.start.line == 10
    assert (
        "array 'features' gives samples [N, 2], but the model's input features is" in found.message
    )


def test_an_array_of_token_ids_for_a_float_input_is_refused_at_check(tmp_path: Path) -> None:
    arrays = _arrays(10)
    np.savez(tmp_path / "two.npz", **{**arrays, "features": np.arange(30).reshape(10, 3)})
    (found,) = _check(_program(tmp_path))
    assert found.code == "NL2054" and found.span.start.line == 10
    assert (
        "array 'features' holds integers (int64 token ids), and the model's input" in found.message
    )


def test_a_file_that_is_not_an_npz_archive_is_refused_at_check(tmp_path: Path) -> None:
    (tmp_path / "two.npz").write_bytes(b"not a zip")
    (found,) = _check(_program(tmp_path))
    assert found.code == "NL2054" and found.message == "two.npz is not an .npz archive"


def test_a_missing_target_array_is_refused_at_check(tmp_path: Path) -> None:
    arrays = _arrays(10)
    np.savez(tmp_path / "two.npz", image=arrays["image"], features=arrays["features"])
    (found,) = _check(_program(tmp_path))
    assert found.code == "NL2054" and "has no array 'y' of targets" in found.message


def test_inputs_of_different_sample_counts_are_refused_at_check(tmp_path: Path) -> None:
    arrays = _arrays(10)
    np.savez(tmp_path / "two.npz", **{**arrays, "features": arrays["features"][:7]})
    (found,) = _check(_program(tmp_path))
    assert (
        found.code == "NL2054" and "different sample counts (image 10, features 7)" in found.message
    )


def test_a_one_input_source_is_refused_with_a_hint_naming_npz(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("1,0\n")  # there (a missing file is an error of its own)
    (found,) = _check(_program(tmp_path, 'csv("t.csv")'))
    assert found.code == "NL2054" and found.span.start.line == 10
    assert (
        "the data gives one input a sample, but TwoTower takes 2 (image, features)" in found.message
    )
    assert found.hint is not None and "npz(path)" in found.hint


def test_a_missing_file_is_a_located_error_at_check_and_at_train(tmp_path: Path) -> None:
    from netlang.diagnostics import CompileError

    net = _program(tmp_path)
    (said,) = _check(net)  # at the data line, as train says it
    assert said.code == "NL2053" and said.span.start.line == 10
    with pytest.raises(CompileError) as raised:
        train_file(net, overrides={"out": str(tmp_path / "run")}, log=lambda _: None, quiet=True)
    (found,) = raised.value.diagnostics
    assert found.code == "NL2053" and found.span.start.line == 10
    assert not (tmp_path / "run").exists()


def test_a_pixel_move_with_no_image_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tab.net"
    path.write_text(
        "model M {\n    input a: float32[N, 3]\n    input b: float32[N, 2]\n"
        "    y = concat(a, b, axis=1) -> linear(2)\n    output y\n}\n"
        'train M {\n    data npz("t.npz")\n    augment [hflip]\n}\n',
        encoding="utf-8",
    )
    rows = np.zeros((4, 3), np.float32)
    np.savez(tmp_path / "t.npz", a=rows, b=rows[:, :2], y=np.zeros(4, np.int64))
    (found,) = _check(path)
    assert found.code == "NL2050" and "no input is one (a [N, 3], b [N, 2])" in found.message


def test_check_reads_no_torch_to_see_the_arrays(tmp_path: Path) -> None:
    import subprocess
    import sys

    np.savez(tmp_path / "two.npz", **_arrays(10))
    net = _program(tmp_path)
    code = (
        "import sys, netlang; p = netlang.load(sys.argv[1]); g, d = p.build(None, fit=True); "
        "assert g is not None, d; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code, str(net)], check=True, cwd=Path.cwd())


def test_the_example_data_script_reproduces_the_shipped_arrays() -> None:
    import runpy

    data = Path(__file__).resolve().parents[2] / "examples" / "data"
    arrays = runpy.run_path(str(data / "make_digit_metadata.py"))["digit_metadata"]()
    with np.load(data / "digit_metadata.npz") as shipped:
        assert sorted(shipped.files) == ["features", "image", "y"]
        for name, array in arrays.items():
            np.testing.assert_array_equal(shipped[name], array)
    assert arrays["image"].shape == (1797, 1, 8, 8) and arrays["features"].shape == (1797, 3)
