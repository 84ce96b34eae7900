"""The streaming ONNX writer: the file holds exactly the bytes protobuf's own serialiser makes of
the whole model, weights past protobuf's 2 GiB limit go to ONNX external data that onnx and
onnxruntime read back, and a model over 2 GiB compiles in little more memory than its weights."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from netlang.backends import onnx_write
from netlang.backends.onnx_emit import emit, emit_onnx
from netlang.backends.weights import init_weights
from netlang.semantics.builder import GraphBuilder
from netlang.ir import Graph, TensorType

ROOT = Path(__file__).resolve().parents[2]


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
def test_a_model_over_2_gib_compiles_to_external_data_in_little_more_than_its_memory(
    tmp_path: Path,
) -> None:
    """An MLP with 537M parameters (2.15 GB): `netlang compile` as a user runs it, bounded in
    time, with peak memory under 1.5x the weights (the old path needed 4x)."""
    out = tmp_path / "big.onnx"
    settings = ["features=16384", "widths=[32768]", "classes=16", "batch_norm=false", "drop=0.0"]
    command = [sys.executable, "-m", "netlang", "compile", str(ROOT / "stdlib/mlp.net")]
    command += [arg for setting in settings for arg in ("--set", setting)] + ["-o", str(out)]
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    seconds = time.perf_counter() - start
    weight_bytes = (16384 * 32768 + 32768 + 32768 * 16 + 16) * 4
    assert weight_bytes > 2**31
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    assert peak <= 1.5 * weight_bytes, f"peak RSS {peak / 1e9:.2f} GB"
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
