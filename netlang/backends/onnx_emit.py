"""ONNX emission: IR graph + weights -> onnx.ModelProto, built with onnx.helper (no tracing, no
torch).

Graph inputs and outputs keep the model's own value names, each node is named after its IR node
and carries its source position (`file:line:col`) as doc_string and its block hierarchy as
metadata (`namespace`: the enclosing scopes as a `/` path; `netlang.blocks`: what each one
instantiates), the model's metadata lists every block instance with its parameter total
(`netlang.scopes`, JSON), initializers are named like the torch `state_dict`, and symbolic dims
(the batch `N`, a sequence length `T`) stay symbolic.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import Any

import numpy as np
import onnx
import onnx.numpy_helper
from onnx import helper

from netlang.backends.onnx_ops import lower
from netlang.backends.stored import Stored
from netlang.backends.weights import Drawn, check_weights, plan_weights
from netlang.ir import Graph, Node, TensorType
from netlang.ir.graph import torch_state

Weight = np.ndarray | Drawn | Stored  # a weight as given: an array, or one not read or drawn yet
OPSET = 20  # the default and the oldest we emit (Gelu is new in 20); also TensorRT 10's
IR_VERSION = 9  # the IR version that goes with opset 20
MAX_IR_VERSION = 13  # onnxruntime 1.31 rejects 14 and above, so opsets 20-26 can be asked for

ELEMENT_TYPES = {
    "float32": onnx.TensorProto.FLOAT,
    "float16": onnx.TensorProto.FLOAT16,
    "int64": onnx.TensorProto.INT64,
    "int32": onnx.TensorProto.INT32,
    "float64": onnx.TensorProto.DOUBLE,
    "bool": onnx.TensorProto.BOOL,
}

# (producer op, batch norm op, producer output rank) pairs that fold: the batch norm's channel
# axis 1 is then the producer's output-feature axis.
FOLDABLE = {
    ("conv1d", "batchnorm1d", 3),
    ("conv2d", "batchnorm2d", 4),
    ("linear", "batchnorm1d", 2),
}


@dataclasses.dataclass
class Emitted:
    """An emitted model whose initializers are still numpy arrays (or fresh weights not yet
    drawn, `Drawn`, or a checkpoint's tensors not yet read, `Stored`): `model` holds everything
    but them, `initializers` the (name, stored array) pairs in state_dict order. Kept apart so
    that a writer can stream the weights to disk from their own buffers (`onnx_write`)."""

    model: onnx.ModelProto
    initializers: list[tuple[str, Weight]]

    def to_proto(self) -> onnx.ModelProto:
        """One ModelProto with the initializers inside (a copy of every weight)."""
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        for name, array in self.initializers:
            _fill(model.graph.initializer.add(), name, np.asarray(array))
        return model


def emit_onnx(
    graph: Graph, weights: Mapping[str, Weight] | None = None, **options: Any
) -> onnx.ModelProto:
    """`emit` as one ModelProto with the weights copied in (the options are `emit`'s)."""
    return emit(graph, weights, **options).to_proto()


def emit(
    graph: Graph,
    weights: Mapping[str, Weight] | None = None,
    *,
    opset: int = OPSET,
    fold_bn: bool = False,
    fp16: bool = False,
    metadata: Mapping[str, str] | None = None,
    seed: int = 0,
    standardize: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> Emitted:
    """The model as ONNX, its weights not yet copied into the ModelProto. Without `weights` the
    parameters are freshly initialised (`seed`).

    `fold_bn` merges each batch norm into the conv/linear that feeds only it; `fp16` stores
    weights and computes in float16 behind float32 inputs and outputs. `metadata` adds to the
    model's metadata_props (always holding `netlang.version`). `standardize` = {input: (mean,
    std) per channel} puts `(x - mean) / std` in front of each of those float inputs, so that
    every runtime is fed what a user has (pixels in [0, 1]) and gives the same answer.
    """
    weights = dict(weights) if weights is not None else plan_weights(graph, seed)
    check_weights(graph, weights)
    nodes = list(graph.nodes)
    if fold_bn:
        nodes, weights = fold_batchnorms(graph, weights)
    float_type = np.float16 if fp16 else np.float32

    # 1. boundary casts: float32 at the interface, float16 inside
    onnx_nodes: list[onnx.NodeProto] = []
    renamed: dict[str, str] = {}
    statistics: list[onnx.TensorProto] = []
    for name, (mean, std) in (standardize or {}).items():
        nodes_in, tensors, renamed[name] = _standardize_input(graph, name, mean, std)
        onnx_nodes += nodes_in
        statistics += tensors
    for value in _floats(graph.inputs, fp16):
        source = renamed.get(value.name, value.name)
        renamed[value.name] = f"{value.name}/fp16"
        onnx_nodes.append(_cast(source, renamed[value.name], onnx.TensorProto.FLOAT16))
    produced_as = {value.name: f"{value.name}/fp16" for value in _floats(graph.outputs, fp16)}
    renamed.update(produced_as)  # an output may also feed later nodes

    # 2. lower every node, tagging each ONNX node with the IR node's source position
    used: set[str] = set()
    for node in nodes:
        lowering = lower(
            node,
            [renamed.get(v, v) for v in node.inputs],
            [produced_as.get(v, v) for v in node.outputs],
            float_type,
        )
        hierarchy = _hierarchy(graph, node)
        for made in lowering.nodes:
            made.doc_string = str(node.origin) if node.origin else ""
            helper.set_metadata_props(made, hierarchy)
        onnx_nodes += lowering.nodes
        used.update(lowering.used)
    onnx_nodes += [
        _cast(inner, outer, onnx.TensorProto.FLOAT) for outer, inner in produced_as.items()
    ]

    # 3. the graph and the model; the initializers in state_dict order (`torch_state`), as
    # stored: float32 or float16, little-endian, C order
    onnx_graph = helper.make_graph(
        onnx_nodes,
        graph.name,
        [_value_info(v.name, v.type) for v in graph.inputs],
        [_value_info(v.name, v.type) for v in graph.outputs],
        statistics,
        doc_string=graph.doc,
    )
    release = version("netlang")  # read once: each call parses the installed METADATA file
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", opset)],
        ir_version=ir_version(opset),
        producer_name="netlang",
        producer_version=release,
        doc_string=graph.doc,
    )
    names = list(torch_state(nodes))
    initializers = [(name, _stored(weights[name], float_type)) for name in names if name in used]
    scopes = _scopes_json(graph)
    helper.set_model_props(
        model,
        {"netlang.version": release, **scopes, **(metadata or {})},
    )
    return Emitted(model, initializers)


def _hierarchy(graph: Graph, node: Node) -> dict[str, str]:
    """Node metadata naming the scopes around `node`, for viewers that group by namespace."""
    chain = graph.enclosing(node.name)
    if not chain:
        return {}
    return {
        "namespace": chain[-1].name.replace(".", "/"),
        "netlang.blocks": "/".join(s.block or "group" for s in chain),
    }


def _scopes_json(graph: Graph) -> dict[str, str]:
    """`netlang.scopes`: each block instance and group with its block and parameter total."""
    if not graph.scopes:
        return {}
    params = graph.scope_params()
    table = {
        name: {"block": s.block, "params": params[name], "origin": str(s.origin or "")}
        for name, s in graph.scopes.items()
    }
    return {"netlang.scopes": json.dumps(table, separators=(",", ":"))}


def ir_version(opset: int) -> int:
    """The IR version to declare for `opset`; ValueError outside what netlang and onnxruntime
    support."""
    if opset < OPSET:
        raise ValueError(
            f"opset {opset} is too old: netlang emits Gelu and needs opset {OPSET} or newer"
        )
    required = max(IR_VERSION, helper.find_min_ir_version_for([helper.make_opsetid("", opset)]))
    if required > MAX_IR_VERSION:
        raise ValueError(
            f"opset {opset} needs ONNX IR version {required}; onnxruntime 1.31 reads "
            f"IR versions up to {MAX_IR_VERSION}"
        )
    return required


def fold_batchnorms(
    graph: Graph, weights: Mapping[str, Weight]
) -> tuple[list[Node], dict[str, Weight]]:
    """Fold `y = bn(conv(x))` into one conv with scaled weights and a (new) bias, when the batch
    norm is the conv's only consumer; the folded conv takes over the batch norm's output."""
    uses = Counter(v for node in graph.nodes for v in node.inputs)
    uses.update(v.name for v in graph.outputs)
    producers = {out: node for node in graph.nodes for out in node.outputs}
    folded: dict[str, Node] = {}  # producer name -> the producer writing the bn's output
    dropped: set[str] = set()
    weights = dict(weights)
    for bn in graph.nodes:
        producer = producers.get(bn.inputs[0]) if bn.inputs else None  # `param` takes no input
        if (
            producer is None
            or uses[bn.inputs[0]] != 1
            or (producer.op, bn.op, bn.input_types[0].rank) not in FOLDABLE
        ):
            continue
        weights.update(_folded_weights(producer, bn, weights))
        params = {**producer.params, "bias": (producer.output_types[0].shape[1],)}
        folded[producer.name] = dataclasses.replace(
            producer, outputs=bn.outputs, output_types=bn.output_types, params=params
        )
        dropped.add(bn.name)
    nodes = [folded.get(node.name, node) for node in graph.nodes if node.name not in dropped]
    return nodes, weights


def _folded_weights(
    producer: Node, bn: Node, weights: Mapping[str, Weight]
) -> dict[str, np.ndarray]:
    def get(node: Node, local: str, default: float) -> np.ndarray:
        name = node.key(local)
        return np.asarray(weights[name], np.float64) if name in weights else np.float64(default)

    scale = get(bn, "weight", 1.0) / np.sqrt(get(bn, "running_var", 1.0) + bn.attrs["eps"])
    weight = get(producer, "weight", 0.0)
    weight = weight * scale.reshape(-1, *[1] * (weight.ndim - 1))
    shift = get(bn, "bias", 0.0)
    bias = (get(producer, "bias", 0.0) - get(bn, "running_mean", 0.0)) * scale + shift
    return {
        f"{producer.name}.weight": weight.astype(np.float32),
        f"{producer.name}.bias": np.broadcast_to(bias, scale.shape).astype(np.float32),
    }


def _standardize_input(
    graph: Graph, name: str, mean: Sequence[float], std: Sequence[float]
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """Sub/Div nodes `(x - mean) / std` along axis 1 of the graph's float input `name`; returns
    them, the statistics, and the standardised value's name."""
    value = next((v for v in graph.inputs if v.name == name), None)
    if value is None or value.type.dtype != "float32":
        raise ValueError(f"in-graph standardisation needs a float32 input {name!r}")
    rank, channels = value.type.rank, len(mean)
    if rank < 2 or value.type.shape[1] not in (channels, None) or len(std) != channels:
        raise ValueError(
            f"standardisation statistics for {channels} channels do not fit input "
            f"{value.name!r} of shape {list(value.type.shape)}"
        )
    shape = (1, channels) + (1,) * (rank - 2)
    tensors = [
        onnx.numpy_helper.from_array(np.asarray(v, np.float32).reshape(shape), f"{name}/{key}")
        for key, v in (("mean", mean), ("std", std))
    ]
    nodes = [
        helper.make_node("Sub", [name, f"{name}/mean"], [f"{name}/centred"], name=f"{name}/sub"),
        helper.make_node(
            "Div", [f"{name}/centred", f"{name}/std"], [f"{name}/standardized"], name=f"{name}/div"
        ),
    ]
    for node in nodes:
        node.doc_string = "standardisation with the train split's statistics"
    return nodes, tensors, f"{name}/standardized"


def _floats(values: list[Any], fp16: bool) -> list[Any]:
    return [v for v in values if fp16 and v.type.dtype == "float32"]


def _cast(source: str, target: str, to: int) -> onnx.NodeProto:
    return helper.make_node("Cast", [source], [target], name=f"{target}/cast", to=to)


def _stored(array: Weight, float_type: type[np.floating[Any]]) -> Weight:
    """The array as stored: floats in `float_type`, little-endian, C order (copied only where
    one of those changes; fresh float32 weights stay undrawn, a checkpoint's tensors unread,
    until written)."""
    lazy = isinstance(array, Drawn | Stored)
    value = array if lazy else np.asarray(array)
    dtype = float_type if np.issubdtype(value.dtype, np.floating) else value.dtype
    dtype = np.dtype(dtype).newbyteorder("<")
    if lazy and value.dtype == dtype:
        return array
    return np.ascontiguousarray(np.asarray(value), dtype)


def _fill(tensor: onnx.TensorProto, name: str, array: np.ndarray) -> None:
    """numpy_helper.from_array, written in place: building a TensorProto and then adding it to
    the graph (and the graph to the model) would copy every weight twice more."""
    tensor.name = name
    tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
    tensor.dims.extend(array.shape)
    tensor.raw_data = array.tobytes()


def _value_info(name: str, type: TensorType) -> onnx.ValueInfoProto:
    """A graph input/output; symbolic dims become dim_params (dynamic axes)."""
    return helper.make_tensor_value_info(name, ELEMENT_TYPES[type.dtype], list(type.shape))
