"""Programmatic IR construction: apply registered ops one by one, inferring shapes as they go.

The elaborator builds every graph through this; tests use it to make single-op graphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

from netlang.ir import Graph, NameScope, Node, TensorType, Value
from netlang.ops import REGISTRY
from netlang.ops.registry import ShapeError, bind
from netlang.ir.types import format_shape
from netlang.diagnostics.source import Span


# 10^10 float32 parameters are 40 GB: more than any model the compiler could emit or train.
MAX_PARAMETERS = 10**10


def _need_floats(op: str, types: tuple[TensorType, ...]) -> None:
    """Layers with weights compute in float32, their weights' type (`fp16` export casts inside);
    an integer tensor needs `embedding`."""
    for t in types:
        if t.dtype != "float32":
            raise ShapeError(
                f"{op} computes in float32, but its input is {t.dtype}{format_shape(t.shape)}",
                "declare the input float32, or look integer ids up with `embedding` first",
                "NL3009",
            )


class GraphBuilder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.inputs: list[Value] = []
        self.nodes: list[Node] = []
        self.types: dict[str, TensorType] = {}
        self.scopes: dict[str, NameScope] = {}
        self.parameters = 0  # so far, against MAX_PARAMETERS

    def input(self, name: str, type: TensorType) -> str:
        self.inputs.append(Value(name, type))
        self.types[name] = type
        return name

    def apply(
        self,
        op: str,
        inputs: Sequence[str],
        attrs: dict[str, Any],
        name: str,
        origin: Span | None = None,
        *,
        bound: bool = False,
    ) -> tuple[str, ...]:
        """Add one node named `name`; returns its output value names.

        Raises ShapeError when the inputs do not fit, AttrError when `attrs` do not (unless
        `bound`, meaning they were bound by `ops.registry.bind` already).
        """
        spec = REGISTRY[op]
        low, high = spec.arity
        if len(inputs) < low or (high is not None and len(inputs) > high):
            want = (
                f"{low}" if low == high else f"at least {low}" if high is None else f"{low}-{high}"
            )
            raise ShapeError(
                f"{op} takes {want} input tensor{'s' if want != '1' else ''}, got {len(inputs)}",
                code="NL2011",
            )
        attrs = attrs if bound else bind(spec, [], attrs)
        input_types = tuple(self.types[i] for i in inputs)
        output_types = spec.infer(input_types, attrs)
        params = spec.params(input_types, attrs)
        if params and "int_input" not in spec.tags:
            _need_floats(op, input_types)
        self.parameters += sum(prod(shape) for shape in params.values())
        if self.parameters > MAX_PARAMETERS:
            raise ShapeError(
                f"the model has more than {MAX_PARAMETERS:,} parameters",
                "a size is probably wrong; the compiler refuses what it could not allocate",
                "NL2023",
            )
        outputs = (
            (name,)
            if len(output_types) == 1 and "" not in params  # a free tensor's name is its own
            else tuple(f"{name}:{i}" for i in range(len(output_types)))
        )
        node = Node(
            name,
            op,
            tuple(inputs),
            outputs,
            attrs,
            input_types,
            output_types,
            params,
            spec.buffers(input_types, attrs),
            origin,
            spec.macs(input_types, output_types, attrs),
        )
        self.nodes.append(node)
        self.types.update(zip(outputs, output_types))
        return outputs

    def scope(
        self, name: str, block: str | None, origin: Span | None, outputs: Sequence[str]
    ) -> None:
        """Record a block instance or group whose nodes are named `name.*`."""
        self.scopes[name] = NameScope(name, block, origin, tuple(outputs))

    def finish(self, outputs: dict[str, str], **fields: Any) -> Graph:
        """Close the graph; `outputs` maps each output name to the value it returns."""
        rename = {
            value: out
            for out, value in outputs.items()
            if value not in {i.name for i in self.inputs}
        }
        for node in self.nodes:
            node.inputs = tuple(rename.get(v, v) for v in node.inputs)
            node.outputs = tuple(rename.get(v, v) for v in node.outputs)
        values = [Value(out, self.types[value]) for out, value in outputs.items()]
        scopes = {
            name: NameScope(s.name, s.block, s.origin, tuple(rename.get(v, v) for v in s.outputs))
            for name, s in sorted(self.scopes.items(), key=lambda item: item[0].count("."))
        }
        return Graph(
            self.name, list(self.inputs), values, list(self.nodes), scopes=scopes, **fields
        )
