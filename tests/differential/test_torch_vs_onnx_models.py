"""Differential: every standard-library and example model, built from its `.net` source, computes
the same outputs through the torch backend (eval mode) and through our ONNX run by onnxruntime on
CPU, with the same weights (the torch module's state_dict, batch-norm statistics randomised so
that they matter), at batch 1 and 3; plain, with batch norm folded, and in float16. Every model's
ONNX also passes the full checker, and ONNX's strict shape inference agrees with the IR's shape of
every value.

Models with a `size` parameter run at the smallest of SIZES that compiles (the 224x224 defaults
would take minutes on two cores); models over SLOW_PARAMS parameters (VGG, AlexNet: ~0.25-0.6 GB
of weights to copy, serialize and load per variant) are marked slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper

import netlang
from netlang.backends.onnx_emit import emit_onnx, fold_batchnorms
from netlang.backends.torch_module import to_torch
from netlang.diagnostics import CompileError
from netlang.ir import Graph, TensorType

REPO = Path(__file__).resolve().parents[2]
# every stdlib file and example; `_name.net` files are scratch (excluded, as private modules are)
SOURCES = sorted((REPO / "stdlib").glob("[!_]*.net")) + sorted(
    (REPO / "examples").glob("[!_]*.net")
)
SIZES = (32, 64, 96, 128, 160)  # tried in order for models with a `size` parameter
SLOW_PARAMS = 30_000_000
SEQUENCE = 7  # the length given to symbolic dims other than the batch
BATCHES = (1, 3)
TOLERANCE = 1e-4  # max |torch - onnx| relative to max(1, max |torch|)
# float16 has a 10-bit mantissa (unit roundoff 2**-11 ~ 4.9e-4): rounding the weights and every
# activation costs a few 1e-4 of relative error per layer, accumulating with depth. The worst seen
# is 6.6e-4 (ResNet-152; plain float32 stays under 1e-6), so 5e-3 leaves a 7x margin while a wrong
# layer (errors of order 1) still fails.
FP16_TOLERANCE = 5e-3
BATCHNORMS = ("batchnorm1d", "batchnorm2d")


def _model_ids() -> list[tuple[Path, str]]:
    return [(path, name) for path in SOURCES for name in netlang.load(path).models]


def _small(path: Path, name: str) -> tuple[Graph, dict[str, Any]]:
    """The model with default arguments, except `size` set to the smallest of SIZES it accepts."""
    program = netlang.load(path)
    graph = program.model(name)
    if "size" not in graph.arguments:
        return graph, {}
    for size in SIZES:
        try:
            return program.model(name, size=size), {"size": size}
        except CompileError:
            continue
    return graph, {}


def _params() -> list[Any]:
    params = []
    for path, name in _model_ids():
        graph, arguments = _small(path, name)
        marks = [pytest.mark.slow] if graph.param_count > SLOW_PARAMS else []
        label = f"{path.parent.name}/{path.stem}:{name}"
        params.append(pytest.param((path, name, arguments), id=label, marks=marks))
    return params


@dataclass
class Case:
    """One model with torch weights, random inputs, and torch's outputs for each batch size."""

    graph: Graph
    weights: dict[str, np.ndarray]
    inputs: dict[int, dict[str, np.ndarray]]  # batch -> graph input name -> array
    expected: dict[int, list[np.ndarray]]  # batch -> outputs in graph.outputs order
    plain: onnx.ModelProto  # emit_onnx(graph, weights), shared by the tests that need it


@pytest.fixture(scope="module", params=_params())
def case(request: pytest.FixtureRequest) -> Case:
    path, name, arguments = request.param
    graph = netlang.load(path).model(name, **arguments)
    module = to_torch(graph, seed=0).eval()
    weights = _randomise_batchnorms(graph, module)
    inputs = {batch: _inputs(graph, batch) for batch in BATCHES}
    expected = {}
    with torch.no_grad():
        for batch, feed in inputs.items():
            result = module(*(torch.from_numpy(feed[v.name]) for v in graph.inputs))
            outputs = result if isinstance(result, tuple) else (result,)
            expected[batch] = [t.numpy() for t in outputs]
    return Case(graph, weights, inputs, expected, emit_onnx(graph, weights))


def _randomise_batchnorms(graph: Graph, module: torch.nn.Module) -> dict[str, np.ndarray]:
    """The state_dict as numpy, each batch norm's affine and running statistics moved off their
    identity initial values (in the module too: the tensors are shared)."""
    generator = torch.Generator().manual_seed(0)
    state = module.state_dict()
    for node in graph.nodes:
        if node.op not in BATCHNORMS:
            continue
        for local, low, high in (("weight", 0.5, 1.5), ("running_var", 0.5, 2.0)):
            if f"{node.name}.{local}" in state:
                state[f"{node.name}.{local}"].uniform_(low, high, generator=generator)
        for local in ("bias", "running_mean"):
            if f"{node.name}.{local}" in state:
                state[f"{node.name}.{local}"].normal_(0.0, 0.2, generator=generator)
    return {key: tensor.numpy() for key, tensor in state.items()}


def _inputs(graph: Graph, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch)
    feed = {}
    for value in graph.inputs:
        shape = [
            batch if i == 0 and not isinstance(d, int) else d if isinstance(d, int) else SEQUENCE
            for i, d in enumerate(value.type.shape)
        ]
        if value.type.dtype == "int64":
            feed[value.name] = rng.integers(0, _vocabulary(graph, value.name), shape)
        else:
            feed[value.name] = rng.standard_normal(shape).astype(np.float32)
    return feed


def _vocabulary(graph: Graph, name: str) -> int:
    """The valid index range of an integer input: the smallest embedding table it feeds."""
    return min(
        node.attrs["num"] for node in graph.nodes if name in node.inputs and node.op == "embedding"
    )


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def _assert_close(model: onnx.ModelProto, case: Case, tolerance: float) -> None:
    session = _session(model)
    for batch in BATCHES:
        actual = session.run(None, case.inputs[batch])
        assert len(actual) == len(case.expected[batch])
        for value, got, want in zip(case.graph.outputs, actual, case.expected[batch]):
            assert got.shape == want.shape, value.name
            error = float(np.abs(got.astype(np.float64) - want).max())
            scale = max(1.0, float(np.abs(want).max()))
            assert error <= tolerance * scale, (value.name, batch, error, scale)


def test_onnxruntime_matches_torch_eval(case: Case) -> None:
    _assert_close(case.plain, case, TOLERANCE)


def test_folded_batchnorm_matches_torch_eval(case: Case) -> None:
    if not any(node.op in BATCHNORMS for node in case.graph.nodes):
        # nothing to fold: the graph stays as it is, so emitting and running it proves nothing new
        assert fold_batchnorms(case.graph, case.weights)[0] == case.graph.nodes
        return
    model = emit_onnx(case.graph, case.weights, fold_bn=True)
    producers = {out: node.op for node in case.graph.nodes for out in node.outputs}
    if any(
        producers.get(node.inputs[0]) in ("conv1d", "conv2d", "linear")
        for node in case.graph.nodes
        if node.op in BATCHNORMS
    ):
        assert _count(model, "BatchNormalization") < _count(case.plain, "BatchNormalization")
    _assert_close(model, case, TOLERANCE)


def _count(model: onnx.ModelProto, op_type: str) -> int:
    return sum(node.op_type == op_type for node in model.graph.node)


def test_float16_matches_torch_within_fp16_bound(case: Case) -> None:
    model = emit_onnx(case.graph, case.weights, fp16=True)
    _assert_close(model, case, FP16_TOLERANCE)


def test_checker_and_strict_shape_inference_agree_with_ir(case: Case) -> None:
    onnx.checker.check_model(case.plain, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(_skeleton(case.plain), strict_mode=True)
    shapes = {
        info.name: _dims(info) for info in [*inferred.graph.value_info, *inferred.graph.output]
    }
    types = case.graph.types()
    for value in (out for node in case.graph.nodes for out in node.outputs):
        assert value in shapes, value
        _assert_same_shape(value, types[value], shapes[value])
    for value in case.graph.outputs:
        _assert_same_shape(value.name, value.type, shapes[value.name])


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its initializers declared as typed graph inputs instead: the same shape
    inference (shapes come from Constant nodes and the initializers' declared shapes) without
    copying hundreds of MB of weights twice more."""
    graph = model.graph
    weights = [
        helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in graph.initializer
    ]
    skeleton = helper.make_graph(graph.node, graph.name, [*graph.input, *weights], graph.output)
    return helper.make_model(
        skeleton, opset_imports=model.opset_import, ir_version=model.ir_version
    )


def _dims(info: onnx.ValueInfoProto) -> list[int | str | None]:
    return [
        d.dim_value if d.HasField("dim_value") else d.dim_param or None
        for d in info.type.tensor_type.shape.dim
    ]


def _assert_same_shape(name: str, ir_type: TensorType, onnx_dims: list[int | str | None]) -> None:
    assert len(onnx_dims) == ir_type.rank, (name, ir_type.shape, onnx_dims)
    for ir_dim, onnx_dim in zip(ir_type.shape, onnx_dims):
        if isinstance(ir_dim, int):
            assert onnx_dim == ir_dim, (name, ir_type.shape, onnx_dims)
        else:  # symbolic in the IR: ONNX must not claim a fixed size
            assert not isinstance(onnx_dim, int), (name, ir_type.shape, onnx_dims)
