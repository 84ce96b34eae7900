"""Hover text (Markdown): a layer's or tensor's inferred shape, parameters and MACs, and a block's
or model's signature and doc comment."""

from __future__ import annotations

from netlang.ir import Graph, format_shape
from netlang.lsp.analysis import (
    Analysis,
    Typed,
    definition_of,
    expression_types,
    path_at,
    stage_types,
    variable_types,
)
from netlang.ops import REGISTRY
from netlang.diagnostics.source import Position, Span, split_lines
from netlang.syntax import ast

MAX_ROWS = 8  # instances listed one by one; the rest are counted


def hover(analysis: Analysis, pos: Position) -> tuple[str, Span] | None:
    """Markdown for what is at `pos`, and the span it describes; None where nothing is known."""
    module = analysis.module
    if module is None:
        return None
    path = path_at(module, pos)
    definition = definition_of(path)
    if definition is None or not path:
        return None
    node, parent = path[-1], (path[-2] if len(path) > 1 else None)
    stage = next((n for n in reversed(path) if isinstance(n, ast.Stage)), None)
    if stage is not None and _on_stage_head(stage, node, parent, pos):
        return _stage(analysis, stage), stage.label_span or node.span
    if isinstance(node, ast.Name) and isinstance(parent, ast.Call) and parent.func is node:
        return _call(analysis, node.id, parent), node.span
    if isinstance(node, ast.Name):
        found = variable_types(analysis, definition, node.id, pos)
        if found:
            return _tensor(node.id, found), node.span
        if node.id in _namespace(analysis):
            return _definition(analysis, node.id), node.span
        return None
    if isinstance(node, ast.InputDecl):
        found = variable_types(analysis, definition, node.name, node.span.end)
        return (_tensor(node.name, found), node.span) if found else None
    if isinstance(node, (ast.ModelDef, ast.BlockDef)) and pos.line == node.span.start.line:
        return _definition(analysis, node.name), node.span
    if isinstance(node, ast.Assign):  # a target (targets are Names, but `a, b =` is not)
        found = expression_types(analysis, definition, node.value)
        return (_tensor(node.targets[-1].id, found), node.span) if found else None
    return None


def _on_stage_head(stage: ast.Stage, node: ast.Node, parent: ast.Node | None, pos: Position):
    """The cursor is on the stage's label or on the name of the layer or block it applies."""
    from netlang.lsp.analysis import contains

    if contains(stage.label_span, pos):
        return True
    body = stage.body
    if isinstance(body, ast.Name):
        return node is body
    return isinstance(body, ast.Call) and node is body.func


def _namespace(analysis: Analysis) -> dict:
    return analysis.program.root.namespace if analysis.program else {}


def _callee(stage: ast.Stage) -> str | None:
    body = stage.body
    if isinstance(body, ast.Name):
        return body.id
    if isinstance(body, ast.Call) and isinstance(body.func, ast.Name):
        return body.func.id
    return None


def _stage(analysis: Analysis, stage: ast.Stage) -> str:
    found = stage_types(analysis, stage.span)
    callee = _callee(stage)
    title = f"**{stage.label}**" if stage.label else ""
    parts = [f"{title} · `{callee}`" if title and callee else title or f"`{callee or '{ }'}`"]
    parts.append(_instances(analysis, found))
    if callee and callee in _namespace(analysis):
        parts.append(_definition(analysis, callee))
    elif callee in REGISTRY:
        parts.append(_op(callee))
    return "\n\n".join(p for p in parts if p)


def _call(analysis: Analysis, name: str, call: ast.Call) -> str:
    """`concat(a, b)` or a model alias's base: the call's instances, or the definition."""
    found = stage_types(analysis, call.span)
    parts = [f"`{name}`", _instances(analysis, found)]
    parts.append(_definition(analysis, name) if name in _namespace(analysis) else _op(name))
    return "\n\n".join(p for p in parts if p)


def _instances(analysis: Analysis, found: list[Typed]) -> str:
    """One line for a single instance, a table for several (a block used many times)."""
    if not found:
        return ""
    rows = [(g, name, types, *_cost(analysis, g, name)) for g, name, types in found]
    if len(rows) == 1:
        graph, name, types, params, macs = rows[0]
        return (
            f"`{_shapes(types)}` · {params:,} parameters · {_macs(macs)} MACs"
            f" · `{name}` in {graph.name}"
        )
    lines = [
        f"{len(rows)} instances · {sum(r[3] for r in rows):,} parameters in all",
        "",
        "| layer | output | params | MACs |",
        "| --- | --- | ---: | ---: |",
    ]
    many_graphs = len({id(r[0]) for r in rows}) > 1
    for graph, name, types, params, macs in rows[:MAX_ROWS]:
        where = f"{graph.name}: {name}" if many_graphs else name
        lines.append(f"| `{where}` | `{_shapes(types)}` | {params:,} | {_macs(macs)} |")
    if len(rows) > MAX_ROWS:
        lines.append(f"| … {len(rows) - MAX_ROWS} more | | | |")
    return "\n".join(lines)


def _cost(analysis: Analysis, graph: Graph, name: str) -> tuple[int, int]:
    """Parameters and MACs of the layer `name`, or of every layer inside the scope `name`."""
    inside = [n for n in graph.nodes if n.name == name or n.name.startswith(name + ".")]
    params = sum(n.param_count for n in inside)
    macs = sum(REGISTRY[n.op].macs(n.input_types, n.output_types, n.attrs) for n in inside)
    return params, macs


def _tensor(name: str, found: list[Typed]) -> str:
    shapes: dict[str, list[str]] = {}
    for graph, _, types in found:
        shapes.setdefault(_shapes(types), []).append(graph.name)
    if len(shapes) == 1:
        (shape, graphs), *_ = shapes.items()
        dtype = found[0][2][0].dtype if found[0][2] else ""
        return f"**{name}**: `{dtype}{shape}`"
    lines = [f"**{name}** has {len(shapes)} shapes ({len(found)} instances):", ""]
    many_graphs = len({g for gs in shapes.values() for g in gs}) > 1
    for shape, graphs in list(shapes.items())[:MAX_ROWS]:
        where = f" in {', '.join(sorted(set(graphs)))}" if many_graphs else ""
        lines.append(f"- `{shape}` ×{len(graphs)}{where}")
    if len(shapes) > MAX_ROWS:
        lines.append(f"- … {len(shapes) - MAX_ROWS} more")
    return "\n".join(lines)


def _definition(analysis: Analysis, name: str) -> str:
    """A block's or model's header as written, with its doc string or the comment above it."""
    unit, definition = _namespace(analysis)[name]
    text = unit.source.text
    lines = split_lines(text)
    start = definition.span.start
    header = "\n".join(lines[start.line - 1 : definition.span.end.line])
    header = header[start.column - 1 :]
    brace = header.find("{")
    header = (header[:brace] if brace >= 0 else header).strip()
    doc = _doc(definition, lines)
    where = unit.source.name.rsplit("/", 1)[-1]
    return f"```netlang\n{header}\n```\n\n{doc}\n\n*{where}:{start.line}*".replace("\n\n\n", "\n\n")


def _doc(definition: ast.Node, lines: list[str]) -> str:
    body = getattr(definition, "body", ())
    docs = [s.text for s in body if isinstance(s, ast.Doc)]
    if docs:
        return docs[0]
    comment: list[str] = []
    number = definition.span.start.line - 2
    while number >= 0 and lines[number].lstrip().startswith("#"):
        comment.insert(0, lines[number].lstrip()[1:].strip())
        number -= 1
    return " ".join(comment)


def _op(name: str) -> str:
    spec = REGISTRY.get(name)
    if spec is None:
        return ""
    return f"```netlang\n{signature(name)}\n```\n\n{spec.doc}"


def signature(name: str) -> str:
    """`conv2d(channels: int, kernel: ints, stride: ints = 1, ...)` from the op registry."""
    from netlang.ops.registry import REQUIRED

    spec = REGISTRY[name]
    params = []
    for attr in spec.attrs:
        if attr.default is REQUIRED:
            params.append(f"{attr.name}: {attr.kind}")
        else:
            params.append(f"{attr.name}: {attr.kind} = {_literal(attr.default)}")
    return f"{name}({', '.join(params)})"


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return "none" if value is None else str(value)


def _shapes(types: tuple) -> str:
    return ", ".join(format_shape(t.shape) for t in types)


def _macs(macs: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if macs >= size:
            return f"{macs / size:.2f}{unit}"
    return str(macs)
