"""The streaming ONNX writer: the file holds exactly the bytes protobuf's own serialiser makes of
the whole model, weights past protobuf's 2 GiB limit go to ONNX external data that onnx and
onnxruntime read back, and a model over 2 GiB compiles in little more memory than its weights."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from netlang.backends import onnx_write, weights
from netlang.backends.onnx_emit import emit, emit_onnx
from netlang.backends.weights import init_weights
from netlang.semantics.builder import GraphBuilder
from netlang.ir import Graph, TensorType

ROOT = Path(__file__).resolve().parents[2]
# The CLI in a process that prints its own peak RSS (VmHWM) at exit: wait4's ru_maxrss would
# count the forked copy of this test process before the exec.
PEAK_RSS = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('peak-rss-kb', open('/proc/self/status').read()"
    ".split('VmHWM:')[1].split()[0], file=sys.stderr))\n"
    "sys.argv = ['netlang', *sys.argv[1:]]\n"
    "runpy.run_module('netlang', run_name='__main__')\n"
)


def conv_bn_mlp() -> Graph:
    b = GraphBuilder("ConvBnMlp")
    x = b.input("image", TensorType("float32", ("N", 3, 8, 8)))
    (h,) = b.apply("conv2d", [x], {"channels": 6, "kernel": 3}, "conv")
    (h,) = b.apply("batchnorm2d", [h], {}, "bn")
    (h,) = b.apply("relu", [h], {}, "relu")
    (h,) = b.apply("flatten", [h], {}, "flat")
    (h,) = b.apply("linear", [h], {"features": 300}, "fc")
    (h,) = b.apply("linear", [h], {"features": 4}, "head")
    return b.finish({"logits": h})


def outputs(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": x})[0]


@pytest.mark.parametrize("fp16", [False, True], ids=["float32", "float16"])
def test_streamed_file_is_byte_for_byte_what_serialize_to_string_gives(
    tmp_path: Path, fp16: bool
) -> None:
    graph = conv_bn_mlp()
    weights = init_weights(graph, seed=2)
    emitted = emit(graph, weights, fp16=fp16, metadata={"netlang.classes": '["a", "b"]'})
    onnx_write.write_onnx(emitted, tmp_path / "model.onnx")
    expected = emit_onnx(graph, weights, fp16=fp16, metadata={"netlang.classes": '["a", "b"]'})
    assert (tmp_path / "model.onnx").read_bytes() == expected.SerializeToString()


def test_external_data_gives_the_same_outputs_and_page_aligned_tensors(tmp_path: Path) -> None:
    graph = conv_bn_mlp()
    emitted = emit(graph, init_weights(graph, seed=4))
    inline = onnx_write.write_onnx(emitted, tmp_path / "inline.onnx")
    external = onnx_write.write_onnx(emitted, tmp_path / "external.onnx", external=True)
    onnx.checker.check_model(str(external), full_check=True)
    structure = onnx.load(str(external), load_external_data=False)
    entries = [
        {e.key: e.value for e in tensor.external_data} for tensor in structure.graph.initializer
    ]
    assert all(
        tensor.data_location == onnx.TensorProto.EXTERNAL for tensor in structure.graph.initializer
    )
    assert {e["location"] for e in entries} == {"external.onnx.data"}
    assert all(int(e["offset"]) % onnx_write.ALIGNMENT == 0 for e in entries)
    assert external.stat().st_size < 4096
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(outputs(external, x), outputs(inline, x))
    loaded = onnx.load(str(external))  # onnx's own reader of external data
    for tensor, (name, array) in zip(loaded.graph.initializer, emitted.initializers, strict=True):
        assert tensor.name == name
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(tensor), array)


def test_weights_over_the_inline_limit_go_external_by_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = conv_bn_mlp()
    emitted = emit(graph)
    size = sum(array.nbytes for _, array in emitted.initializers)
    monkeypatch.setattr(onnx_write, "INLINE_LIMIT", size - 1)
    onnx_write.write_onnx(emitted, tmp_path / "model.onnx")
    assert (tmp_path / "model.onnx.data").stat().st_size >= size
    monkeypatch.setattr(onnx_write, "INLINE_LIMIT", size)
    onnx_write.write_onnx(emitted, tmp_path / "small.onnx")
    assert not (tmp_path / "small.onnx.data").exists()


@pytest.mark.slow
def test_a_model_over_2_gib_compiles_to_external_data_in_a_fraction_of_its_size_in_memory(
    tmp_path: Path,
) -> None:
    """An MLP with 537M parameters (2.15 GB): `netlang compile` as a user runs it, bounded in
    time, with peak memory a fraction of the weights: fresh weights are drawn as they are
    written (drawn first they took 1.005x; the path before streaming needed 4x)."""
    out = tmp_path / "big.onnx"
    settings = ["features=16384", "widths=[32768]", "classes=16", "batch_norm=false", "drop=0.0"]
    command = [sys.executable, "-c", PEAK_RSS, "compile", str(ROOT / "stdlib/mlp.net")]
    command += [arg for setting in settings for arg in ("--set", setting)] + ["-o", str(out)]
    start = time.perf_counter()
    done = subprocess.run(
        command,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    weight_bytes = (16384 * 32768 + 32768 + 32768 * 16 + 16) * 4
    assert weight_bytes > 2**31
    peak = int(done.stderr.split("peak-rss-kb")[-1].split()[0]) * 1024
    assert peak <= 0.2 * weight_bytes, f"peak RSS {peak / 1e9:.2f} GB"
    assert seconds < 120
    assert out.stat().st_size < 4096
    data = out.with_name("big.onnx.data")
    assert weight_bytes <= data.stat().st_size < weight_bytes + 4 * onnx_write.ALIGNMENT
    onnx.checker.check_model(str(out))
    structure = onnx.load(str(out), load_external_data=False)
    lengths = [
        int(next(e.value for e in tensor.external_data if e.key == "length"))
        for tensor in structure.graph.initializer
    ]
    assert sum(lengths) == weight_bytes


def test_fresh_weights_are_drawn_while_written_into_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Undrawn weights (emit's default) streamed in many small pieces give the file that the
    same weights drawn beforehand give, inline and as external data."""
    graph = conv_bn_mlp()
    monkeypatch.setattr(weights, "PIECE", 1000)
    drawn_first = emit(graph, init_weights(graph, seed=0))
    undrawn = emit(graph, seed=0)
    assert any(isinstance(array, weights.Drawn) for _, array in undrawn.initializers)
    for external in (False, True):
        files = [
            onnx_write.write_onnx(emitted, tmp_path / name / "model.onnx", external=external)
            for name, emitted in (("drawn", drawn_first), ("undrawn", undrawn))
        ]
        assert files[0].read_bytes() == files[1].read_bytes()
        if external:
            assert Path(f"{files[0]}.data").read_bytes() == Path(f"{files[1]}.data").read_bytes()


def test_a_failure_while_drawing_is_raised_by_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: weights.Drawn, rng: np.random.Generator, piece: np.ndarray) -> None:
        raise MemoryError("no room for the next piece")

    monkeypatch.setattr(weights.Drawn, "_draw", broken)
    with pytest.raises(MemoryError, match="next piece"):
        onnx_write.write_onnx(emit(conv_bn_mlp()), tmp_path / "model.onnx")


def test_a_new_file_replaces_the_old_one_only_when_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model is written beside its destination and renamed into place (through a symbolic
    link, to the link's target); a reader holding the old file keeps its bytes, and a write
    that fails leaves no partial file at the path and no temporary."""
    graph = conv_bn_mlp()
    target, link = tmp_path / "model.onnx", tmp_path / "latest.onnx"
    target.write_bytes(b"old model")
    link.symlink_to(target.name)
    with open(target, "rb") as reader:
        onnx_write.write_onnx(emit(graph, init_weights(graph, seed=1)), link)
        assert reader.read() == b"old model"
    assert link.is_symlink()
    assert target.read_bytes() == emit_onnx(graph, init_weights(graph, seed=1)).SerializeToString()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.onnx", "model.onnx"]

    def broken(self: weights.Drawn, rng: np.random.Generator, piece: np.ndarray) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(weights.Drawn, "_draw", broken)
    for external in (False, True):
        with pytest.raises(OSError, match="disk full"):
            onnx_write.write_onnx(emit(graph, seed=1), target, external=external)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.onnx"]


def test_the_same_seed_gives_the_same_file_and_another_seed_another(tmp_path: Path) -> None:
    graph = conv_bn_mlp()
    files = [
        onnx_write.write_onnx(emit(graph, seed=seed), tmp_path / f"{name}.onnx").read_bytes()
        for name, seed in (("first", 3), ("again", 3), ("other", 4))
    ]
    assert files[0] == files[1] != files[2]
