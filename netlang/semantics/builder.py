"""Programmatic IR construction: apply registered ops one by one, inferring shapes as they go.

The elaborator builds every graph through this; tests use it to make single-op graphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

from netlang.ir import Graph, NameScope, Node, TensorType, Value
from netlang.ops import REGISTRY, OpSpec
from netlang.ops.registry import TAKES, ShapeError, bind
from netlang.ir.types import format_shape
from netlang.diagnostics.source import Span


# 10^10 float32 parameters are 40 GB: more than any model the compiler could emit or train.
MAX_PARAMETERS = 10**10


# What an op of each `OpSpec.takes` wants, as its NL3009 says.
WANTS = {
    "float32": "computes in float32",
    "ids": "takes integer token ids (int64 or int32)",
    "numbers": "takes numbers, not bool",
}


def _check_element_types(spec: OpSpec, types: tuple[TensorType, ...]) -> None:
    """The one check of `OpSpec.takes`, so that what passes `check` both backends can run: an
    input of another element type is NL3009 at its argument (or the layer), saying what to write
    instead."""
    allowed = TAKES[spec.takes]
    if len(types) == 1 and types[0].dtype in allowed:  # most layers: nothing to compare
        return
    for index, t in enumerate(types):
        if t.dtype not in allowed:
            which = f"input {index + 1}" if len(types) > 1 else "input"
            raise ShapeError(
                f"{spec.name} {WANTS[spec.takes]}, but its {which} is "
                f"{t.dtype}{format_shape(t.shape)}",
                _hint(spec.takes, t.dtype, index),
                "NL3009",
                input=index,
            )
    other = next((i for i, t in enumerate(types) if t.dtype != types[0].dtype), None)
    if other is not None:  # located at the first input that differs from the first
        raise ShapeError(
            f"{spec.name} needs inputs of one element type, got "
            + " and ".join(f"{t.dtype}{format_shape(t.shape)}" for t in types),
            f'cast it with `cast("{types[0].dtype}")`, or declare the model\'s inputs with one '
            "element type",
            "NL3009",
            input=other,
        )


def _hint(takes: str, dtype: str, index: int) -> str:
    """What to write instead: `cast` the tensor, or declare the model's input as the type."""
    if takes == "ids":
        return 'cast the tensor with `cast("int64")`, or declare the token input int64[...]'
    if takes == "numbers":
        return 'cast it to numbers with `cast("float32")`, or declare the input float32[...]'
    if dtype.startswith("float"):
        return (
            'cast the tensor with `cast("float32")`, or declare the model\'s input float32[...] '
            "(for float16 inside: export `--fp16`)"
        )
    if index > 0:  # the second input of attention and masked_mean
        return (
            "make the keep mask with `padding_mask(tokens)`, from the token ids, or cast it with "
            '`cast("float32")`'
        )
    return (
        "look integer token ids up with `embedding(num, dim)` first, or cast the values with "
        '`cast("float32")`'
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
        _check_element_types(spec, input_types)
        output_types = spec.infer(input_types, attrs)
        params = spec.params(input_types, attrs)
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
        inputs = {i.name for i in self.inputs}
        rename = {value: out for out, value in outputs.items() if value not in inputs}
        renamed = rename.keys()
        for node in self.nodes:  # only the few that make or read an output
            if not renamed.isdisjoint(node.inputs):
                node.inputs = tuple(rename.get(v, v) for v in node.inputs)
            if not renamed.isdisjoint(node.outputs):
                node.outputs = tuple(rename.get(v, v) for v in node.outputs)
        values = [Value(out, self.types[value]) for out, value in outputs.items()]
        scopes = {
            name: NameScope(s.name, s.block, s.origin, tuple(rename.get(v, v) for v in s.outputs))
            for name, s in sorted(self.scopes.items(), key=lambda item: item[0].count("."))
        }
        return Graph(
            self.name, list(self.inputs), values, list(self.nodes), scopes=scopes, **fields
        )
