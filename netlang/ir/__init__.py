"""The IR, the single source of truth: typed tensors, the graph of named nodes, its cost summary.

Owns: `types` (TensorType, Dim, Shape), `graph` (Value, Node, Graph), `summary` (the static
cost report). Imports only `netlang.diagnostics` (for source spans); everything downstream
(ops, semantics, backends, tools) reads it, nothing here knows about them.
"""

from netlang.ir.graph import Graph, NameScope, Node, Value
from netlang.ir.types import DTYPES, Dim, Shape, TensorType, format_shape, numel

__all__ = [
    "DTYPES",
    "Dim",
    "Graph",
    "NameScope",
    "Node",
    "Shape",
    "TensorType",
    "Value",
    "format_shape",
    "numel",
]
