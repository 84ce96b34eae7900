"""The Triton repository writer, checked with Triton's own protobuf schema
(tritonclient.grpc.model_config_pb2) and against the ONNX graph's inputs and outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from google.protobuf import text_format

from netlang.serve.triton_repo import write_triton_repo

from tests.serve.serve_models import classifier_reference, save_classifier, save_fixed, save_mixed

try:  # tritonclient raises RuntimeError, not ImportError, when grpcio is missing
    from tritonclient.grpc import model_config_pb2 as mc
except (ImportError, RuntimeError) as e:
    pytest.skip(f"Triton's schema needs tritonclient[grpc]: {e}", allow_module_level=True)

ONNX_TO_TRITON = {
    1: "TYPE_FP32",
    2: "TYPE_UINT8",
    3: "TYPE_INT8",
    4: "TYPE_UINT16",
    5: "TYPE_INT16",
    6: "TYPE_INT32",
    7: "TYPE_INT64",
    8: "TYPE_STRING",
    9: "TYPE_BOOL",
    10: "TYPE_FP16",
    11: "TYPE_FP64",
    12: "TYPE_UINT32",
    13: "TYPE_UINT64",
}


def parse_config(model_dir: Path):  # type: ignore[no-untyped-def]
    """Parse with Triton's schema (a ParseError is a schema error) and check its semantic rules."""
    cfg = text_format.Parse((model_dir / "config.pbtxt").read_text(), mc.ModelConfig())
    assert cfg.name == model_dir.name
    assert cfg.platform == "onnxruntime_onnx"
    assert (model_dir / "1" / "model.onnx").is_file()
    for t in list(cfg.input) + list(cfg.output):
        assert t.name and t.data_type != mc.TYPE_INVALID and len(t.dims) >= 1 and min(t.dims) >= -1
    if cfg.HasField("dynamic_batching"):
        assert cfg.max_batch_size > 0
    return cfg


def check_against_onnx(cfg, onnx_path: Path) -> None:  # type: ignore[no-untyped-def]
    graph = onnx.load(str(onnx_path)).graph
    initializers = {i.name for i in graph.initializer}
    inputs = [v for v in graph.input if v.name not in initializers]
    for tensors, infos in ((cfg.input, inputs), (cfg.output, graph.output)):
        assert [t.name for t in tensors] == [v.name for v in infos]
        for t, v in zip(tensors, infos, strict=True):
            tt = v.type.tensor_type
            assert mc.DataType.Name(t.data_type) == ONNX_TO_TRITON[tt.elem_type]
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
            if cfg.max_batch_size > 0:
                assert dims[0] == -1
                dims = dims[1:]
            assert list(t.dims) == dims


def test_batchable_model_gets_batch_free_dims_and_dynamic_batching(tmp_path: Path) -> None:
    src = save_mixed(tmp_path / "mixed.onnx")
    model_dir = write_triton_repo(
        src, tmp_path / "repo", "mixed", 16, "gpu", max_queue_delay_us=100
    )
    cfg = parse_config(model_dir)
    check_against_onnx(cfg, model_dir / "1" / "model.onnx")
    assert cfg.max_batch_size == 16
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 100
    assert [(g.count, g.kind) for g in cfg.instance_group] == [(1, mc.ModelInstanceGroup.KIND_GPU)]
    assert (model_dir / "1" / "model.onnx").read_bytes() == src.read_bytes()


def test_fixed_batch_dim_means_no_batching_and_full_shape(tmp_path: Path) -> None:
    src = save_fixed(tmp_path / "fixed.onnx")
    model_dir = write_triton_repo(src, tmp_path / "repo", "fixed", 8, "cpu")
    cfg = parse_config(model_dir)
    check_against_onnx(cfg, model_dir / "1" / "model.onnx")
    assert cfg.max_batch_size == 0 and not cfg.HasField("dynamic_batching")
    assert list(cfg.input[0].dims) == [2, -1]
    assert cfg.instance_group[0].kind == mc.ModelInstanceGroup.KIND_CPU


def test_max_batch_size_zero_keeps_the_variable_batch_dim_in_dims(tmp_path: Path) -> None:
    src = save_classifier(tmp_path / "clf.onnx")
    cfg = parse_config(write_triton_repo(src, tmp_path / "repo", "clf", 0, "cpu"))
    assert cfg.max_batch_size == 0 and list(cfg.input[0].dims) == [-1, 8]


def test_model_with_external_weights_becomes_a_model_onnx_directory(tmp_path: Path) -> None:
    src = save_classifier(tmp_path / "clf.onnx")
    model = onnx.load(str(src))
    onnx.save(
        model,
        str(tmp_path / "ext.onnx"),
        save_as_external_data=True,
        location="ext.data",
        size_threshold=0,
    )
    model_dir = write_triton_repo(tmp_path / "ext.onnx", tmp_path / "repo", "ext", 4, "cpu")
    inner = model_dir / "1" / "model.onnx" / "model.onnx"
    assert inner.is_file()
    x = np.ones((2, 8), np.float32)
    session = ort.InferenceSession(str(inner), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(
        session.run(None, {"input": x})[0], classifier_reference(x), rtol=1e-5
    )


@pytest.mark.parametrize("name", ["", "a/b", "..", "bad name"])
def test_invalid_model_names_are_refused(tmp_path: Path, name: str) -> None:
    src = save_classifier(tmp_path / "clf.onnx")
    with pytest.raises(ValueError, match="invalid model name"):
        write_triton_repo(src, tmp_path / "repo", name, 4, "cpu")
