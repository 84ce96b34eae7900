"""Block instances elaborated once per program: a repeated instance is a renamed copy.

ResNet-152's 36 blocks of its third stage are one Bottleneck with the same arguments and input
type 35 times. What a block instance adds to the graph depends only on its definition, its
arguments and its inputs' types (its body sees nothing else), and its nodes are named under the
instance's path and read only its inputs and one another; so the first instance's nodes, scopes
and returned tensors, with the path and the input names replaced, are what elaborating it again
would add. Only instances that reported nothing are kept, and a copy is made only where the
limits (layers, parameters, loop runs, nesting, recursion) are sure to hold, so the graph and
the diagnostics are those of elaborating every instance. The kept instances live in their
`Program` (its models and their shape tests share them), keyed by the identity of definitions
the program holds.
"""

from __future__ import annotations

from collections.abc import Hashable
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


# A value an instance reads or makes: the index of its input, or its name after the path.
Relative = int | str
# per node: the node (for its other fields), its name, inputs and outputs, whether its attrs hold
# lists, and whether it reads no input of the instance
RelativeNode = tuple[Node, str, tuple[Relative, ...], tuple[str, ...], bool, bool]


@dataclass(slots=True)
class Instance:
    """What one block instance added, named under `path` and reading `inputs`."""

    path: str
    inputs: tuple[str, ...]
    # per node: the node (for its other fields) and its name, inputs and outputs as made
    # (finishing the graph renames the node's own)
    nodes: tuple[tuple[Node, str, tuple[str, ...], tuple[str, ...]], ...]
    scopes: tuple[NameScope, ...]
    returned: tuple[Tensor, ...]
    parameters: int
    iterations: int
    depth: int  # instantiations nested inside it, counting itself
    blocks: frozenset[str]  # the blocks instantiated inside it
    # its values relative to `path` and `inputs`, made at the first copy (True: not yet; False:
    # not renamable)
    relative: (
        tuple[
            tuple[RelativeNode, ...],
            tuple[tuple[NameScope, str, tuple[Relative, ...]], ...],
            tuple[tuple[Relative, TensorType], ...],
            tuple[tuple[str, TensorType], ...],  # the types of the values its nodes make
        ]
        | bool
    ) = True


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
    """The instance, or None when it returns more than tensors."""
    if not all(isinstance(v, Tensor) for v in returned):
        return None
    return Instance(
        path,
        tuple(t.value for t in inputs),
        tuple((n, n.name, n.inputs, n.outputs) for n in nodes),
        tuple(scopes),
        tuple(returned),
        *counts,
        blocks,
    )


def _relative(instance: Instance) -> None:
    """Name the instance's values relative to its path and inputs; not renamable (False) when
    one is neither its input nor under its path."""
    given = {v: i for i, v in enumerate(instance.inputs)}
    prefix = instance.path + "."
    cut = len(instance.path)

    def relative(value: str) -> Relative:
        found = given.get(value)
        if found is not None:
            return found
        if not value.startswith(prefix):
            raise LookupError(value)
        return value[cut:]

    def made(value: str) -> str:
        found = relative(value)
        if not isinstance(found, str):
            raise LookupError(value)
        return found

    try:
        nodes = tuple(
            (n, made(name), tuple(map(relative, ins)), tuple(map(made, outs)))
            for n, name, ins, outs in instance.nodes
        )
        instance.relative = (
            tuple(
                (n, name, ins, outs, _has_list(n), not any(isinstance(v, int) for v in ins))
                for n, name, ins, outs in nodes
            ),
            tuple((s, made(s.name), tuple(map(relative, s.outputs))) for s in instance.scopes),
            tuple((relative(t.value), t.type) for t in instance.returned),
            tuple((v, t) for n, _, _, outs in nodes for v, t in zip(outs, n.output_types)),
        )
    except LookupError:
        instance.relative = False


def copy(
    instance: Instance, path: str, inputs: list[Tensor]
) -> tuple[list[Node], list[NameScope], tuple[Tensor, ...], dict[str, TensorType]] | None:
    """The instance's nodes, scopes, returned tensors and new value types at `path`, reading
    `inputs`; None when it is not renamable."""
    if instance.relative is True:
        _relative(instance)
    if isinstance(instance.relative, bool):
        return None
    relative_nodes, relative_scopes, relative_returned, relative_types = instance.relative
    given = [t.value for t in inputs]
    nodes = []
    for node, name, reads, makes, lists, plain in relative_nodes:
        if plain and len(reads) == 1 and len(makes) == 1:  # most: one tensor in, one out
            ins, outs = (path + reads[0],), (path + makes[0],)  # type: ignore[operator]
        else:
            ins = tuple([given[v] if isinstance(v, int) else path + v for v in reads])
            outs = tuple([path + v for v in makes])
        nodes.append(
            Node(
                path + name,
                node.op,
                ins,
                outs,
                {k: _fresh(v) for k, v in node.attrs.items()} if lists else dict(node.attrs),
                node.input_types,
                node.output_types,
                dict(node.params),
                dict(node.buffers),
                node.origin,
                node.macs,
            )
        )
    types = {path + v: t for v, t in relative_types}
    scopes = [
        NameScope(
            path + name,
            s.block,
            s.origin,
            tuple(given[v] if isinstance(v, int) else path + v for v in reads),
        )
        for s, name, reads in relative_scopes
    ]
    returned = tuple(
        Tensor(given[v] if isinstance(v, int) else path + v, t) for v, t in relative_returned
    )
    return nodes, scopes, returned, types


def _has_list(node: Node) -> bool:
    return any(isinstance(v, list) for v in node.attrs.values())


def _fresh(value: Any) -> Any:
    """A list of its own, as a second elaboration would evaluate it (the rest is immutable)."""
    return [_fresh(v) for v in value] if isinstance(value, list) else value
