"""The IR as Graphviz DOT: one box per layer (label, op, key arguments, parameters), edges
labelled with the inferred shape, one cluster per block instance or group.

`depth` limits how many levels of blocks are drawn open: a block nested deeper is one box with
its parameter total, so ResNet-152 can be read at the level of its stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netlang.ir import Graph, NameScope, Node, Shape, format_shape
from netlang.ops import REGISTRY
from netlang.ops.registry import REQUIRED

HIDDEN_ATTRS = {"init"}  # how weights start says nothing about the network's structure


@dataclass(slots=True)
class _Cluster:
    scope: NameScope
    members: list[str] = field(default_factory=list)  # DOT ids of the boxes drawn inside
    children: list[_Cluster] = field(default_factory=list)
    params: int = 0


def key_arguments(node: Node) -> str:
    """The arguments worth reading: required ones by position, the rest where not default."""
    spec = REGISTRY[node.op]
    shown = []
    for attr in spec.attrs:
        value = node.attrs.get(attr.name)
        if attr.name in HIDDEN_ATTRS:
            continue
        text = _value(value)
        if attr.default is REQUIRED:
            shown.append(text)
        elif value != attr.default and not (isinstance(attr.default, bool) and value is None):
            shown.append(f"{attr.name}={text}")
    return ", ".join(shown)


def to_dot(graph: Graph, depth: int | None = None) -> str:
    """The DOT text of `graph`, blocks nested more than `depth` levels drawn closed."""
    lines = [
        f"digraph {_quote(graph.name)} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f6fb", fontname="Helvetica",'
        " fontsize=10];",
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
        f"  label={_quote(_title(graph))}; labelloc=t; fontname=Helvetica;",
    ]
    producer: dict[str, str] = {}  # value name -> DOT id of the box that makes it
    for value in graph.inputs:
        box = f"input:{value.name}"
        producer[value.name] = box
        label = f"input {value.name}\n{value.type.dtype}{format_shape(value.type.shape)}"
        lines.append(_box(box, label, shape="ellipse", fillcolor="#e3f1e3"))

    top: list[str] = []
    clusters: dict[str, _Cluster] = {}
    roots: list[_Cluster] = []
    collapsed: dict[str, int] = {}  # DOT id of a closed block -> its parameter count
    for node in graph.nodes:
        chain = graph.enclosing(node.name)
        open_chain = chain if depth is None else chain[:depth]
        parent: _Cluster | None = None
        for scope in open_chain:
            cluster = clusters.get(scope.name)
            if cluster is None:
                cluster = clusters[scope.name] = _Cluster(scope)
                (parent.children if parent else roots).append(cluster)
            cluster.params += node.param_count
            parent = cluster
        if depth is not None and len(chain) > depth:
            closed = chain[depth]
            box = f"block:{closed.name}"
            if box not in collapsed:
                (parent.members if parent else top).append(box)
            collapsed[box] = collapsed.get(box, 0) + node.param_count
        else:
            box = node.name
            (parent.members if parent else top).append(box)
            lines.append(_box(box, _node_label(node)))
        for value in node.outputs:
            producer[value] = box

    for box, params in collapsed.items():
        scope = graph.scopes[box.removeprefix("block:")]
        label = f"{scope.name}: {scope.block or 'group'}\n{params:,} params"
        lines.append(_box(box, label, shape="box3d", style="filled", fillcolor="#fff4dc"))
    for cluster in roots:
        lines += _cluster_lines(cluster, "  ")
    lines += _edges(graph, producer)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edges(graph: Graph, producer: dict[str, str]) -> list[str]:
    types = graph.types()
    seen: set[tuple[str, str, str]] = set()
    lines = []
    for node in graph.nodes:
        target = producer[node.outputs[0]]
        for value in node.inputs:
            source = producer[value]
            if source != target and (source, target, value) not in seen:
                seen.add((source, target, value))
                lines.append(_edge(source, target, types[value].shape))
    for value in graph.outputs:
        box = f"output:{value.name}"
        label = f"output {value.name}\n{value.type.dtype}{format_shape(value.type.shape)}"
        lines.append(_box(box, label, shape="ellipse", fillcolor="#fde8e8"))
        lines.append(_edge(producer[value.name], box, value.type.shape))
    return lines


def _cluster_lines(cluster: _Cluster, indent: str) -> list[str]:
    scope = cluster.scope
    kind = scope.block or "group"
    label = f"{scope.name}: {kind} ({cluster.params:,} params)"
    lines = [
        f"{indent}subgraph {_quote('cluster_' + scope.name)} {{",
        f'{indent}  label={_quote(label)}; style="rounded,dashed"; color="#8a94a6"; fontsize=10;',
    ]
    lines += [f"{indent}  {_quote(member)};" for member in cluster.members]
    for child in cluster.children:
        lines += _cluster_lines(child, indent + "  ")
    lines.append(f"{indent}}}")
    return lines


def _node_label(node: Node) -> str:
    short = node.name.rsplit(".", 1)[-1]  # the cluster around it shows the rest
    lines = [] if short.isdigit() else [short]  # an index names nothing a reader wrote
    arguments = key_arguments(node)
    lines.append(f"{node.op}({arguments})" if arguments else node.op)
    if node.param_count:
        lines.append(f"{node.param_count:,} params")
    return "\n".join(lines)


def _title(graph: Graph) -> str:
    return f"{graph.name}: {graph.param_count:,} parameters"


def _box(box: str, label: str, **style: str) -> str:
    extra = "".join(f", {key}={_quote(value)}" for key, value in style.items())
    return f"  {_quote(box)} [label={_quote(label)}{extra}];"


def _edge(source: str, target: str, shape: Shape) -> str:
    return f"  {_quote(source)} -> {_quote(target)} [label={_quote(format_shape(shape))}];"


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _quote(text: str) -> str:
    """A DOT string literal; newlines become centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
