"""Whole-model ONNX emission: names, positions, metadata, versions, dynamic batch, batch-norm
folding and float16, checked with onnx's checker and shape inference, onnxruntime and torch."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from netlang.backends.onnx_emit import IR_VERSION, OPSET, emit_onnx
from netlang.backends.weights import init_weights
from netlang.semantics.builder import GraphBuilder
from netlang.ir import Graph, TensorType
from netlang.diagnostics.source import SourceFile

SOURCE = SourceFile("models/lenet.net", "model LeNet\n" * 12)


def lenet() -> Graph:
    """conv -> bn -> relu -> pool -> conv -> relu -> pool -> flatten -> linear -> bn1d -> relu
    -> dropout -> linear -> softmax, each node with a source position on its own line."""
    b = GraphBuilder("LeNet")
    x = b.input("image", TensorType("float32", ("N", 1, 16, 16)))
    steps = [
        ("conv2d", {"channels": 4, "kernel": 5, "padding": 2}, "features.0"),
        ("batchnorm2d", {}, "features.1"),
        ("relu", {}, "features.2"),
        ("maxpool2d", {"kernel": 2}, "features.3"),
        ("conv2d", {"channels": 6, "kernel": 3}, "features.4"),
        ("relu", {}, "features.5"),
        ("maxpool2d", {"kernel": 2}, "features.6"),
        ("flatten", {}, "flatten"),
        ("linear", {"features": 12, "bias": False}, "classifier.0"),
        ("batchnorm1d", {}, "classifier.1"),
        ("relu", {}, "classifier.2"),
        ("dropout", {}, "classifier.3"),
        ("linear", {"features": 3}, "classifier.4"),
        ("softmax", {}, "probs"),
    ]
    for line, (op, attrs, name) in enumerate(steps, 1):
        (x,) = b.apply(op, [x], attrs, name, SOURCE.span(line, 5, line, 9))
    return b.finish({"probs": x})


def trained_weights(graph: Graph, seed: int = 3) -> dict[str, np.ndarray]:
    """init_weights with batch-norm statistics and affine terms moved off their defaults."""
    rng = np.random.default_rng(seed)
    weights = init_weights(graph, seed)
    for name, value in weights.items():
        if name.endswith(("running_mean", ".1.bias")):
            weights[name] = rng.normal(0, 0.5, value.shape).astype(np.float32)
        elif name.endswith(("running_var", ".1.weight")):
            weights[name] = rng.uniform(0.5, 2, value.shape).astype(np.float32)
    return weights


def lenet_torch(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """The same network in torch.nn.functional, eval mode."""
    t = {k: torch.from_numpy(v) for k, v in w.items()}

    def bn(h: torch.Tensor, p: str) -> torch.Tensor:
        return F.batch_norm(
            h, t[f"{p}.running_mean"], t[f"{p}.running_var"], t[f"{p}.weight"], t[f"{p}.bias"]
        )

    with torch.no_grad():
        h = F.relu(
            bn(
                F.conv2d(
                    torch.from_numpy(x), t["features.0.weight"], t["features.0.bias"], padding=2
                ),
                "features.1",
            )
        )
        h = F.max_pool2d(h, 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, t["features.4.weight"], t["features.4.bias"])), 2)
        h = F.relu(bn(F.linear(torch.flatten(h, 1), t["classifier.0.weight"]), "classifier.1"))
        h = F.linear(h, t["classifier.4.weight"], t["classifier.4.bias"])
        return F.softmax(h, -1).numpy()


def lenet_state_dict_keys() -> list[str]:
    """The state_dict keys of the same network written with torch.nn."""
    nn = torch.nn
    module = nn.Module()
    module.features = nn.Sequential(
        nn.Conv2d(1, 4, 5, padding=2),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )
    module.classifier = nn.Sequential(
        nn.Linear(54, 12, bias=False), nn.BatchNorm1d(12), nn.ReLU(), nn.Dropout(), nn.Linear(12, 3)
    )
    return list(module.state_dict())


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": x})[0]


def images(batch: int) -> np.ndarray:
    return np.random.default_rng(batch).standard_normal((batch, 1, 16, 16)).astype(np.float32)


def max_error(actual: np.ndarray, expected: np.ndarray) -> float:
    assert actual.shape == expected.shape
    return float(np.abs(actual - expected).max() / max(1.0, np.abs(expected).max()))


def test_model_passes_full_check_with_pinned_versions() -> None:
    model = emit_onnx(lenet())
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == IR_VERSION <= 13
    assert [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)]


@pytest.mark.parametrize("opset", [21, 23, 26])
def test_newer_opsets_get_a_matching_ir_version_and_the_same_outputs(opset: int) -> None:
    graph = lenet()
    weights = trained_weights(graph)
    model = emit_onnx(graph, weights, opset=opset)
    onnx.checker.check_model(model, full_check=True)
    assert IR_VERSION < model.ir_version <= 13
    x = images(2)
    assert max_error(run(model, x), lenet_torch(x, weights)) <= 1e-4


def test_opsets_without_gelu_are_refused() -> None:
    with pytest.raises(ValueError, match="opset 19"):
        emit_onnx(lenet(), opset=19)


def test_every_intermediate_shape_from_onnx_inference_equals_the_ir() -> None:
    graph = lenet()
    inferred = onnx.shape_inference.infer_shapes(
        emit_onnx(graph), check_type=True, strict_mode=True
    )
    shapes = {
        v.name: [d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim]
        for v in [*inferred.graph.value_info, *inferred.graph.output]
    }
    for node in graph.nodes:
        assert shapes[node.outputs[0]] == list(node.output_types[0].shape), node.name


def test_names_positions_and_initializers_follow_the_ir_and_state_dict() -> None:
    graph = lenet()
    model = emit_onnx(graph)
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["probs"]
    nodes = {n.name: n for n in model.graph.node}
    assert set(nodes) == {node.name for node in graph.nodes}
    assert nodes["features.0"].op_type == "Conv"
    assert nodes["features.0"].doc_string == "models/lenet.net:1:5"
    assert nodes["probs"].doc_string == "models/lenet.net:14:5"
    used_state = [k for k in lenet_state_dict_keys() if not k.endswith("num_batches_tracked")]
    assert [t.name for t in model.graph.initializer] == used_state
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "N" and not batch.HasField("dim_value")


def test_matches_torch_for_several_batch_sizes_in_one_session() -> None:
    graph = lenet()
    weights = trained_weights(graph)
    session = ort.InferenceSession(
        emit_onnx(graph, weights).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    for batch in (1, 2, 5):
        x = images(batch)
        assert max_error(session.run(None, {"image": x})[0], lenet_torch(x, weights)) <= 1e-4


def test_fold_bn_removes_batchnorms_and_keeps_the_outputs() -> None:
    graph = lenet()
    weights = trained_weights(graph)
    folded = emit_onnx(graph, weights, fold_bn=True)
    onnx.checker.check_model(folded, full_check=True)
    assert "BatchNormalization" not in {n.op_type for n in folded.graph.node}
    assert {"features.1.running_mean", "classifier.0.bias"} & {
        t.name for t in folded.graph.initializer
    } == {"classifier.0.bias"}  # linear gained a bias
    x = images(4)
    assert max_error(run(folded, x), lenet_torch(x, weights)) <= 1e-4


def test_fold_bn_of_conv1d_and_a_batchnorm_without_affine_terms() -> None:
    b = GraphBuilder("Signal")
    x = b.input("signal", TensorType("float32", ("N", 3, 20)))
    (h,) = b.apply("conv1d", [x], {"channels": 5, "kernel": 3, "stride": 2, "bias": False}, "conv")
    (h,) = b.apply("batchnorm1d", [h], {"affine": False, "eps": 1e-3}, "bn")
    graph = b.finish({"out": h})
    weights = trained_weights(graph)
    weights["bn.running_mean"] = np.linspace(-1, 1, 5, dtype=np.float32)
    weights["bn.running_var"] = np.linspace(0.5, 2, 5, dtype=np.float32)
    folded = emit_onnx(graph, weights, fold_bn=True)
    assert [n.op_type for n in folded.graph.node] == ["Conv"]
    signal = np.random.default_rng(0).standard_normal((2, 3, 20)).astype(np.float32)
    t = {k: torch.from_numpy(v) for k, v in weights.items()}
    with torch.no_grad():
        expected = F.batch_norm(
            F.conv1d(torch.from_numpy(signal), t["conv.weight"], stride=2),
            t["bn.running_mean"],
            t["bn.running_var"],
            eps=1e-3,
        ).numpy()
    session = ort.InferenceSession(folded.SerializeToString(), providers=["CPUExecutionProvider"])
    assert max_error(session.run(None, {"signal": signal})[0], expected) <= 1e-4


def test_fold_bn_leaves_a_conv_whose_output_has_another_consumer() -> None:
    b = GraphBuilder("branch")
    x = b.input("image", TensorType("float32", ("N", 2, 6, 6)))
    (conv,) = b.apply("conv2d", [x], {"channels": 3, "kernel": 3, "padding": 1}, "conv")
    (bn,) = b.apply("batchnorm2d", [conv], {}, "bn")
    (out,) = b.apply("add", [conv, bn], {}, "sum")
    graph = b.finish({"out": out})
    weights = trained_weights(graph)
    folded = emit_onnx(graph, weights, fold_bn=True)
    assert "BatchNormalization" in {n.op_type for n in folded.graph.node}
    x_in = np.random.default_rng(0).standard_normal((2, 2, 6, 6)).astype(np.float32)
    t = {k: torch.from_numpy(v) for k, v in weights.items()}
    with torch.no_grad():
        c = F.conv2d(torch.from_numpy(x_in), t["conv.weight"], t["conv.bias"], padding=1)
        expected = (
            c
            + F.batch_norm(
                c, t["bn.running_mean"], t["bn.running_var"], t["bn.weight"], t["bn.bias"]
            )
        ).numpy()
    session = ort.InferenceSession(folded.SerializeToString(), providers=["CPUExecutionProvider"])
    assert max_error(session.run(None, {"image": x_in})[0], expected) <= 1e-4


def test_fp16_keeps_a_float32_interface_and_stays_within_1e_2() -> None:
    graph = lenet()
    weights = trained_weights(graph)
    model = emit_onnx(graph, weights, fp16=True)
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert {t.data_type for t in model.graph.initializer} == {onnx.TensorProto.FLOAT16}
    x = images(3)
    assert max_error(run(model, x), lenet_torch(x, weights)) <= 1e-2


def test_fp16_output_that_also_feeds_another_node() -> None:
    b = GraphBuilder("TwoHeads")
    x = b.input("image", TensorType("float32", ("N", 6)))
    (hidden,) = b.apply("linear", [x], {"features": 5}, "body")
    (logits,) = b.apply("linear", [hidden], {"features": 2}, "head")
    graph = b.finish({"hidden": hidden, "logits": logits})
    weights = init_weights(graph)
    model = emit_onnx(graph, weights, fp16=True)
    onnx.checker.check_model(model, full_check=True)
    x_in = images(3).reshape(3, -1)[:, :6].copy()
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"image": x_in}
    )
    t = {k: torch.from_numpy(v) for k, v in weights.items()}
    with torch.no_grad():
        h = F.linear(torch.from_numpy(x_in), t["body.weight"], t["body.bias"])
        expected = [h.numpy(), F.linear(h, t["head.weight"], t["head.bias"]).numpy()]
    for actual, reference in zip(got, expected):
        assert max_error(actual, reference) <= 1e-2


def test_metadata_round_trips_through_a_file_and_onnxruntime(tmp_path) -> None:
    metadata = {
        "netlang.source_file": "models/lenet.net",
        "netlang.source_sha256": "ab" * 32,
        "netlang.model": "LeNet",
        "netlang.arguments": json.dumps({"classes": 3}),
        "netlang.classes": json.dumps(["cat", "dog", "eel"]),
        "netlang.preprocess": json.dumps(
            {"size": [16, 16], "channels": 1, "mean": [0.5], "std": [0.25]}
        ),
    }
    path = tmp_path / "lenet.onnx"
    onnx.save(emit_onnx(lenet(), metadata=metadata), path)
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert props == {"netlang.version": props["netlang.version"], **metadata}
    assert props["netlang.version"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map == props


def test_same_seed_same_model_and_missing_weights_are_named() -> None:
    graph = lenet()
    first, again = emit_onnx(graph, seed=7), emit_onnx(graph, seed=7)
    assert first.SerializeToString() == again.SerializeToString()
    weights = init_weights(graph)
    del weights["features.4.weight"]
    with pytest.raises(ValueError, match="features.4.weight"):
        emit_onnx(graph, weights)


@pytest.mark.parametrize(("dtype", "numpy_type"), [("float64", np.float64), ("bool", np.bool_)])
def test_layout_ops_carry_every_declared_element_type_through_onnxruntime(
    dtype: str, numpy_type: type
) -> None:
    """A dtype `check` accepts as an input must emit: flatten/permute/reshape on float64 or bool
    (no arithmetic) used to crash the emitter with a KeyError. (dropout, which torch cannot apply
    to bool while training, takes float32 only.)"""
    b = GraphBuilder("Layout")
    x = b.input("x", TensorType(dtype, ("N", 2, 3)))
    (flat,) = b.apply("flatten", [x], {}, "flat")
    (kept,) = b.apply("permute", [flat], {"dims": [0, 1]}, "kept")
    (moved,) = b.apply("reshape", [x], {"shape": [3, 2]}, "moved")
    model = emit_onnx(b.finish({"y": kept, "z": moved}), {})
    onnx.checker.check_model(model, full_check=True)
    value = (np.arange(12).reshape(2, 2, 3) % 3).astype(numpy_type)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    flat_out, moved_out = session.run(None, {"x": value})
    assert flat_out.dtype == moved_out.dtype == value.dtype
    np.testing.assert_array_equal(flat_out, value.reshape(2, 6))
    np.testing.assert_array_equal(moved_out, value.reshape(2, 3, 2))
