"""Checkpoint tensors left in their file: exporting a checkpoint gives byte for byte the file its
tensors read into arrays give (folded, in float16, as external data, without a kernel copy),
from the checkpoint as it was read, and in a fraction of the weights' size in memory."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from safetensors.numpy import load_file, save_file

from netlang.backends import onnx_write, stored
from netlang.backends.onnx_emit import emit, emit_onnx
from netlang.backends.stored import Stored, read_safetensors
from netlang.backends.weights import init_weights
from netlang.diagnostics.source import SourceFile
from netlang.export.ship import build, read_weights
from tests.backends.test_onnx_write import PEAK_RSS, ROOT, cli_peak_rss, conv_bn_mlp


def checkpoint(tmp_path: Path, seed: int = 0) -> Path:
    graph = conv_bn_mlp()
    weights = init_weights(graph, seed)
    weights["bn.num_batches_tracked"] = np.array(7, np.int64)
    weights["bn.running_var"] = np.linspace(0.5, 2.0, 6, dtype=np.float32)
    save_file(weights, str(tmp_path / "weights.safetensors"))
    return tmp_path / "weights.safetensors"


def test_stored_tensors_read_back_as_the_arrays_saved(tmp_path: Path) -> None:
    file = checkpoint(tmp_path)
    tensors = read_weights(file)
    expected = load_file(str(file))
    assert tensors.keys() == expected.keys()
    assert all(isinstance(tensor, Stored) for tensor in tensors.values())
    for name, array in expected.items():
        read = np.asarray(tensors[name])
        assert read.dtype == array.dtype and read.shape == array.shape
        np.testing.assert_array_equal(read, array)
    np.testing.assert_array_equal(
        np.asarray(tensors["fc.weight"], np.float64), expected["fc.weight"]
    )


@pytest.mark.parametrize(
    ("fold_bn", "fp16", "external"),
    [(False, False, False), (True, False, False), (False, True, False), (True, True, True)],
    ids=["as-is", "folded", "float16", "folded-float16-external"],
)
def test_an_export_of_a_checkpoint_is_byte_for_byte_that_of_its_arrays(
    tmp_path: Path, fold_bn: bool, fp16: bool, external: bool
) -> None:
    file, graph = checkpoint(tmp_path), conv_bn_mlp()
    options = {"fold_bn": fold_bn, "fp16": fp16, "metadata": {"netlang.model": "ConvBnMlp"}}
    emitted = emit(graph, read_weights(file), **options)
    left = [name for name, array in emitted.initializers if isinstance(array, Stored)]
    assert ("fc.weight" in left) is not fp16  # what is stored unchanged is never read
    assert ("conv.weight" in left) is not (fold_bn or fp16)
    written = onnx_write.write_onnx(emitted, tmp_path / "model.onnx", external=external)
    arrays = load_file(str(file))  # the reference: the same checkpoint read into arrays
    if not external:
        assert written.read_bytes() == emit_onnx(graph, arrays, **options).SerializeToString()
        return
    reference = emit(graph, arrays, **options)
    expected = onnx_write.write_onnx(reference, tmp_path / "ref" / "model.onnx", external=True)
    assert written.read_bytes() == expected.read_bytes()
    assert Path(f"{written}.data").read_bytes() == Path(f"{expected}.data").read_bytes()


def test_without_a_kernel_copy_the_tensors_go_through_one_small_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where neither copy_file_range nor sendfile copies between the two files (another file
    system, another OS), the bytes are the same, read piece by piece."""
    file, graph = checkpoint(tmp_path), conv_bn_mlp()
    expected = emit_onnx(graph, load_file(str(file))).SerializeToString()

    def refused(*_: int) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    def copies() -> Iterator[object]:
        yield refused
        yield refused

    monkeypatch.setattr(stored, "_kernel_copies", copies)
    monkeypatch.setattr(stored, "PIECE_BYTES", 1000)
    for external in (False, True):
        path = tmp_path / str(external) / "model.onnx"
        onnx_write.write_onnx(emit(graph, read_weights(file)), path, external=external)
        if not external:
            assert path.read_bytes() == expected
    loaded = onnx.load(str(path))
    arrays = load_file(str(file))
    for tensor in loaded.graph.initializer:
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(tensor), arrays[tensor.name])


def test_the_checkpoint_written_is_the_one_read_even_if_replaced_meanwhile(tmp_path: Path) -> None:
    file, graph = checkpoint(tmp_path, seed=1), conv_bn_mlp()
    expected = emit_onnx(graph, load_file(str(file))).SerializeToString()
    emitted = emit(graph, read_weights(file))
    (tmp_path / "other").mkdir()
    os.replace(
        checkpoint(tmp_path / "other", seed=2), file
    )  # as training replaces its checkpoints: renamed over
    assert onnx_write.write_onnx(emitted, tmp_path / "model.onnx").read_bytes() == expected


def test_a_checkpoint_cut_short_after_reading_fails_the_write_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    file, graph = checkpoint(tmp_path), conv_bn_mlp()
    emitted = emit(graph, read_weights(file))
    os.truncate(file, file.stat().st_size // 2)  # the same file, shortened in place
    with pytest.raises(ValueError, match="ends before"):
        onnx_write.write_onnx(emitted, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_a_header_that_points_past_the_file_is_refused(tmp_path: Path) -> None:
    file = checkpoint(tmp_path)
    data = file.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    name = next(key for key in header if key != "__metadata__")
    header[name]["data_offsets"][1] += 4  # one float more than the file holds
    text = json.dumps(header).encode()
    file.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + size :])
    with pytest.raises(Exception, match=r"(?i)offset|incomplete|lie|size"):
        read_safetensors(file)


@pytest.mark.slow
def test_a_checkpoint_over_2_gib_exports_to_external_data_without_reading_it(
    tmp_path: Path,
) -> None:
    """`netlang export` of a run whose weights (2.15 GB, mostly zero pages, marked rows at the
    ends of each tensor) exceed protobuf's limit: the sidecar holds the checkpoint's bytes, and
    the process's peak memory is a fraction of the weights."""
    arguments = {"features": 16384, "widths": [32768], "classes": 16, "batch_norm": False}
    arguments["drop"] = 0.0
    source = SourceFile("mlp.net", (ROOT / "stdlib/mlp.net").read_text())
    shapes = build(source, "MLP", arguments).state()
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "source.net").write_text(source.text)
    config = {"model": "MLP", "arguments": arguments, "source_name": "mlp.net"}
    (run / "config.json").write_text(json.dumps(config))
    weights = {}
    for number, (name, shape) in enumerate(shapes.items()):
        array = np.zeros(shape, np.float32)  # untouched pages: no memory until written
        flat, marks = array.reshape(-1), min(4096, array.size)
        flat[:marks] = np.arange(marks) + number
        flat[-marks:] = -np.arange(marks) - number
        weights[name] = array
    save_file(weights, str(run / "checkpoints/best.safetensors"))
    weight_bytes = sum(array.nbytes for array in weights.values())
    assert weight_bytes > 2**31
    del weights, array, flat
    try:
        out = tmp_path / "big.onnx"
        peak = cli_peak_rss([sys.executable, "-c", PEAK_RSS, "export", str(run), "-o", str(out)])
        assert peak <= 0.2 * weight_bytes, f"peak RSS {peak / 1e9:.2f} GB"
        structure = onnx.load(str(out), load_external_data=False)
        data = np.memmap(out.with_name("big.onnx.data"), np.uint8, mode="r")
        tensors = read_weights(run / "checkpoints/best.safetensors")
        whole = np.memmap(run / "checkpoints/best.safetensors", np.uint8, mode="r")
        for tensor in structure.graph.initializer:
            entry = {e.key: int(e.value) for e in tensor.external_data if e.key != "location"}
            stored_at = tensors[tensor.name]
            assert isinstance(stored_at, Stored) and entry["length"] == stored_at.nbytes
            for start in range(0, entry["length"], 1 << 26):  # 64 MB at a time
                count = min(1 << 26, entry["length"] - start)
                written = data[entry["offset"] + start :][:count]
                assert np.array_equal(written, whole[stored_at.offset + start :][:count])
    finally:  # 4.3 GB: pytest keeps the last runs' folders
        shutil.rmtree(tmp_path, ignore_errors=True)
