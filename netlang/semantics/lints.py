"""Models that compile but almost surely do not compute what their author meant: warnings that
`check` gives with the fix, from the built graph (its nodes and which node made each tensor)."""

from __future__ import annotations

from netlang.diagnostics import Diagnostic, warning
from netlang.ir import Graph
from netlang.ir.types import format_shape


def graph_warnings(graph: Graph) -> list[Diagnostic]:
    """An `embedding`'s [N, T, dim] fed straight into `conv1d`, which reads [N, C, L]: the
    tokens would be its channels and the features its length (NL2056)."""
    made_by = {value: node for node in graph.nodes for value in node.outputs}
    found = []
    for node in graph.nodes:
        source = made_by.get(node.inputs[0]) if node.inputs else None
        if node.op != "conv1d" or source is None or source.op != "embedding" or not node.origin:
            continue
        shape = node.input_types[0].shape
        message = (
            "conv1d reads [N, channels, length], but the embedding before it gives "
            f"[N, tokens, dim] = {format_shape(shape)}: it would slide along the {shape[2]} "
            "embedding features, "
            f"with the {shape[1]} tokens as channels"
        )
        hint = "insert `permute([0, 2, 1])` before it: [N, dim, tokens]"
        found.append(warning("NL2056", message, node.origin, hint=hint))
    return found
