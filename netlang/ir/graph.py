"""The IR: a typed, shape-inferred dataflow graph of named nodes, the single source of truth
for the backends."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netlang.diagnostics.source import Span
from netlang.ir.types import TensorType


@dataclass(frozen=True, slots=True)
class Value:
    """A named tensor at a graph boundary."""

    name: str
    type: TensorType


@dataclass(slots=True)
class Node:
    """One op application. `name` is the hierarchical layer name (`layer1.0.conv1`)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any]
    input_types: tuple[TensorType, ...]
    output_types: tuple[TensorType, ...]
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)  # trainable, by local name
    buffers: dict[str, tuple[int, ...]] = field(default_factory=dict)  # e.g. running statistics
    origin: Span | None = None
    macs: int = 0  # multiply-accumulates per sample, from the op's cost rule

    @property
    def param_count(self) -> int:
        return sum(math.prod(shape) for shape in self.params.values())

    def key(self, local: str) -> str:
        """The `state_dict` name of a parameter or buffer; local "" is the node itself (a free
        tensor such as ViT's `class_token`)."""
        return f"{self.name}.{local}" if local else self.name


def torch_state(nodes: Iterable[Node]) -> dict[str, tuple[int, ...]]:
    """The nodes' parameters and buffers by full name in torch's `state_dict` order for modules
    registered in node order: a module's own parameters, its own buffers, then each submodule's
    the same way, submodules in order of first appearance (so a free tensor at the top comes
    first, and Swin's attention lists its bias table and index buffer before `qkv`)."""
    nodes = list(nodes)
    params = {n.key(k): s for n in nodes for k, s in n.params.items()}
    return _torch_order(params, {n.key(k): s for n in nodes for k, s in n.buffers.items()})


def _torch_order(
    params: dict[str, tuple[int, ...]], buffers: dict[str, tuple[int, ...]]
) -> dict[str, tuple[int, ...]]:
    own = {k: s for k, s in {**params, **buffers}.items() if "." not in k}
    children: dict[str, tuple[dict[str, tuple[int, ...]], ...]] = {}
    for table, which in ((params, 0), (buffers, 1)):
        for key, shape in table.items():
            if "." in key:
                child, rest = key.split(".", 1)
                children.setdefault(child, ({}, {}))[which][rest] = shape
    ordered = dict(own)
    for child, (p, b) in children.items():
        ordered.update({f"{child}.{k}": s for k, s in _torch_order(p, b).items()})
    return ordered


@dataclass(frozen=True, slots=True)
class NameScope:
    """A block instance or a `{ }` group: the prefix its nodes' names share, what made it, and
    where. Tools (graph pictures, the language server, ONNX metadata) group nodes by these."""

    name: str  # the hierarchical prefix (`inception3a.branch2`)
    block: str | None  # the block's name; None for a group
    origin: Span | None  # the call site (the flow stage)
    outputs: tuple[str, ...]  # the values it returns


@dataclass(slots=True)
class Graph:
    """A compiled model: inputs, nodes in topological order, outputs."""

    name: str
    inputs: list[Value]
    outputs: list[Value]
    nodes: list[Node]
    arguments: dict[str, Any] = field(default_factory=dict)  # the model's compile-time parameters
    doc: str = ""
    origin: Span | None = None
    train: Any = (
        None  # netlang.semantics.train_spec.TrainSpec, when the source has a `train` section
    )
    scopes: dict[str, NameScope] = field(default_factory=dict)  # by name, outermost first

    def types(self) -> dict[str, TensorType]:
        """Type of every value, graph inputs and node outputs alike."""
        table = {value.name: value.type for value in self.inputs}
        for node in self.nodes:
            table.update(zip(node.outputs, node.output_types))
        return table

    def parameters(self) -> dict[str, tuple[int, ...]]:
        """Trainable parameter shapes by full `state_dict` name, in definition order."""
        return {n.key(k): s for n in self.nodes for k, s in n.params.items()}

    def buffers(self) -> dict[str, tuple[int, ...]]:
        return {n.key(k): s for n in self.nodes for k, s in n.buffers.items()}

    def state(self) -> dict[str, tuple[int, ...]]:
        """Every parameter and buffer by full name, in the `state_dict` order of `to_torch`."""
        return torch_state(self.nodes)

    @property
    def param_count(self) -> int:
        return sum(node.param_count for node in self.nodes)

    def enclosing(self, name: str) -> list[NameScope]:
        """The block instances and groups around the node or scope `name`, outermost first."""
        parts = name.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts)))
        return [self.scopes[p] for p in prefixes if p in self.scopes]

    def scope_params(self) -> dict[str, int]:
        """Trainable parameters inside each scope, by scope name."""
        totals = dict.fromkeys(self.scopes, 0)
        for node in self.nodes:
            for scope in self.enclosing(node.name):
                totals[scope.name] += node.param_count
        return totals

    def summary(self) -> str:
        from netlang.ir.summary import format_summary, summarize

        return format_summary(summarize(self))
