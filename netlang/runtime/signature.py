"""Model signatures: an ONNX graph's or onnxruntime session's inputs/outputs -> `TensorSpec`s.

One table ties the names every consumer uses for an element type together: the Open Inference
Protocol datatype ("FP32"), numpy, the ONNX `TensorProto` elem_type, onnxruntime's type string and
Triton's config enum. The predictor, the server and the Triton exporter all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class DataType:
    v2: str  # Open Inference Protocol / KServe V2 name
    numpy: str  # numpy dtype name ("object" for strings)
    onnx: int  # onnx.TensorProto elem_type
    ort: str  # onnxruntime NodeArg.type

    @property
    def triton(self) -> str:
        return "TYPE_STRING" if self.v2 == "BYTES" else f"TYPE_{self.v2}"

    @property
    def itemsize(self) -> int:
        """Bytes per element in the binary tensor encoding (0: variable, BYTES)."""
        return 0 if self.v2 == "BYTES" else np.dtype(self.numpy).itemsize


DATATYPES: tuple[DataType, ...] = (
    DataType("BOOL", "bool", 9, "tensor(bool)"),
    DataType("UINT8", "uint8", 2, "tensor(uint8)"),
    DataType("UINT16", "uint16", 4, "tensor(uint16)"),
    DataType("UINT32", "uint32", 12, "tensor(uint32)"),
    DataType("UINT64", "uint64", 13, "tensor(uint64)"),
    DataType("INT8", "int8", 3, "tensor(int8)"),
    DataType("INT16", "int16", 5, "tensor(int16)"),
    DataType("INT32", "int32", 6, "tensor(int32)"),
    DataType("INT64", "int64", 7, "tensor(int64)"),
    DataType("FP16", "float16", 10, "tensor(float16)"),
    DataType("FP32", "float32", 1, "tensor(float)"),
    DataType("FP64", "float64", 11, "tensor(double)"),
    DataType("BYTES", "object", 8, "tensor(string)"),
)
BY_V2 = {t.v2: t for t in DATATYPES}
BY_ONNX = {t.onnx: t for t in DATATYPES}
BY_ORT = {t.ort: t for t in DATATYPES}


_BY_DTYPE = {np.dtype(t.numpy): t for t in DATATYPES if t.v2 != "BYTES"}


def datatype_of_array(array: np.ndarray) -> DataType:
    """The V2 datatype of a result array (strings and bytes both travel as BYTES)."""
    if array.dtype.kind in "OSU":
        return BY_V2["BYTES"]
    datatype = _BY_DTYPE.get(array.dtype)
    if datatype is None:
        raise ValueError(f"no Open Inference Protocol datatype for numpy dtype {array.dtype}")
    return datatype


Dim = int | None  # None: symbolic or unknown


@dataclass(frozen=True, slots=True)
class TensorSpec:
    name: str
    datatype: DataType
    shape: tuple[Dim, ...]

    @property
    def v2_shape(self) -> list[int]:
        """The shape as the protocol reports it: -1 for variable dims."""
        return [-1 if d is None else d for d in self.shape]

    @property
    def batched(self) -> bool:
        """True when dim 0 is variable, so requests can be stacked along it."""
        return bool(self.shape) and self.shape[0] is None


@dataclass(frozen=True, slots=True)
class Signature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def batchable(self) -> bool:
        """Triton's rule: batch along dim 0 only if every input and output has a variable dim 0."""
        return all(t.batched for t in self.inputs + self.outputs)


def _ort_dim(d: Any) -> Dim:
    return d if isinstance(d, int) and d >= 0 else None


def signature_of_session(session: Any) -> Signature:
    """Read the signature from an `onnxruntime.InferenceSession` (initializers already excluded)."""

    def specs(args: list[Any]) -> tuple[TensorSpec, ...]:
        out = []
        for a in args:
            if a.type not in BY_ORT:
                raise ValueError(f"tensor {a.name!r} has unsupported type {a.type}")
            out.append(TensorSpec(a.name, BY_ORT[a.type], tuple(_ort_dim(d) for d in a.shape)))
        return tuple(out)

    return Signature(specs(session.get_inputs()), specs(session.get_outputs()))


def signature_of_onnx(model: Any) -> Signature:
    """Read the signature from an `onnx.ModelProto` graph: graph inputs minus initializers."""
    graph = model.graph
    initializers = {i.name for i in graph.initializer}

    def specs(infos: Any) -> tuple[TensorSpec, ...]:
        out = []
        for v in infos:
            tensor = v.type.tensor_type
            if tensor.elem_type not in BY_ONNX:
                raise ValueError(f"tensor {v.name!r} has unsupported elem_type {tensor.elem_type}")
            dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
            out.append(TensorSpec(v.name, BY_ONNX[tensor.elem_type], dims))
        return tuple(out)

    inputs = [v for v in graph.input if v.name not in initializers]
    return Signature(specs(inputs), specs(graph.output))
