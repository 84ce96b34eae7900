"""Block instances elaborated once per elaboration: a repeated instance is a renamed copy.

ResNet-152's 36 blocks of its third stage are one Bottleneck with the same arguments and input
type 35 times. What a block instance adds to the graph depends only on its definition, its
arguments and its inputs' types (its body sees nothing else), and its nodes are named under the
instance's path and read only its inputs and one another; so the first instance's nodes, scopes
and returned tensors, with the path and the input names replaced, are what elaborating it again
would add. Only instances that reported nothing are kept, and a copy is made only where the
limits (layers, parameters, loop runs, nesting, recursion) are sure to hold, so the graph and
the diagnostics are those of elaborating every instance.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from netlang.ir import NameScope, Node, TensorType
from netlang.semantics.values import Tensor

SCALARS = (bool, int, float, str, type(None))


def freeze(value: Any) -> Hashable | None:
    """A key equal only for equal values of one type (1, 1.0 and true differ); None when the
    value is not a plain constant (a layer, a tensor), whose instance is not kept."""
    if isinstance(value, SCALARS):
        return (type(value).__name__, repr(value))
    if isinstance(value, (list, tuple)):
        items = [freeze(v) for v in value]
        return None if any(i is None for i in items) else (type(value).__name__, tuple(items))
    return None


@dataclass(frozen=True, slots=True)
class Instance:
    """What one block instance added, named under `path` and reading `inputs`."""

    path: str
    inputs: tuple[str, ...]
    nodes: tuple[Node, ...]
    scopes: tuple[NameScope, ...]
    returned: tuple[Tensor, ...]
    parameters: int
    iterations: int
    depth: int  # instantiations nested inside it, counting itself
    blocks: frozenset[str]  # the blocks instantiated inside it


def instance_key(
    definition: Any, args: tuple[Any, ...], kwargs: dict[str, Any], inputs: list[Tensor]
) -> Hashable | None:
    """The key of an instance, None when it is not kept (arguments that are not constants, an
    input given twice)."""
    frozen = [freeze(list(args)), freeze([[k, v] for k, v in kwargs.items()])]
    names = [t.value for t in inputs]
    if any(f is None for f in frozen) or len(set(names)) != len(names):
        return None
    return (id(definition), *frozen, tuple(t.type for t in inputs))


def record(
    path: str,
    inputs: list[Tensor],
    nodes: list[Node],
    scopes: list[NameScope],
    returned: tuple[Any, ...],
    counts: tuple[int, int, int],
    blocks: frozenset[str],
) -> Instance | None:
    """The instance, or None where its copy could not be made by renaming: it returns more
    than tensors, or a value it reads is neither its input nor under its path."""
    if not all(isinstance(v, Tensor) for v in returned):
        return None
    names = {t.value for t in inputs}
    prefix = path + "."
    for value in [v for n in nodes for v in n.inputs] + [t.value for t in returned]:
        if value not in names and not value.startswith(prefix):
            return None
    parameters, iterations, depth = counts
    return Instance(
        path,
        tuple(t.value for t in inputs),
        tuple(_clone(n, lambda v: v) for n in nodes),  # the graph's own are renamed when finished
        tuple(scopes),
        tuple(returned),
        parameters,
        iterations,
        depth,
        blocks,
    )


def copy(
    instance: Instance, path: str, inputs: list[Tensor]
) -> tuple[list[Node], list[NameScope], tuple[Tensor, ...], dict[str, TensorType]]:
    """The instance's nodes, scopes, returned tensors and new value types at `path`, reading
    `inputs`."""
    given = dict(zip(instance.inputs, (t.value for t in inputs)))
    cut = len(instance.path)

    def name(value: str) -> str:
        found = given.get(value)
        return found if found is not None else path + value[cut:]

    nodes = [_clone(n, name) for n in instance.nodes]
    types = {v: t for n in nodes for v, t in zip(n.outputs, n.output_types)}
    scopes = [
        NameScope(name(s.name), s.block, s.origin, tuple(name(v) for v in s.outputs))
        for s in instance.scopes
    ]
    returned = tuple(Tensor(name(t.value), t.type) for t in instance.returned)
    return nodes, scopes, returned, types


def _clone(node: Node, name: Callable[[str], str]) -> Node:
    """A node of its own (the graph renames its nodes' values in place), its names mapped."""
    return Node(
        name(node.name),
        node.op,
        tuple(name(v) for v in node.inputs),
        tuple(name(v) for v in node.outputs),
        dict(node.attrs),
        node.input_types,
        node.output_types,
        dict(node.params),
        dict(node.buffers),
        node.origin,
        node.macs,
    )
