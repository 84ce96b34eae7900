"""One analysis of an editor buffer: parse, load imports, check every model once, and index the
built graphs by source span so hovers are lookups, not compilations.

Positions here are the compiler's: 1-based lines and columns in code points.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from netlang.diagnostics import Diagnostic
from netlang.ir import Graph, NameScope, Node, TensorType
from netlang.semantics.loader import STDLIB_PREFIX, Parse
from netlang.semantics.program import Builds, Program, compile_source
from netlang.syntax.parser import parse
from netlang.syntax.assets import folder
from netlang.diagnostics.source import Position, SourceFile, Span
from netlang.syntax import ast

Definition = ast.ModelDef | ast.BlockDef | ast.ConstDef


@dataclass(slots=True)
class Analysis:
    """What the compiler knows about one version of a document."""

    source: SourceFile
    program: Program | None
    diagnostics: list[Diagnostic]
    sources: dict[str, SourceFile]
    graphs: dict[str, Graph] = field(default_factory=dict)  # model name -> default build
    nodes_at: dict[Span, list[tuple[Graph, Node]]] = field(default_factory=dict)
    scopes_at: dict[Span, list[tuple[Graph, NameScope]]] = field(default_factory=dict)

    @property
    def module(self) -> ast.Module | None:
        return self.program.root.module if self.program else None


def analyse(name: str, text: str, parse: Parse = parse, builds: Builds | None = None) -> Analysis:
    """Compile `text` as the file `name` (a path, so relative imports resolve). `parse` and
    `builds` may remember earlier versions' parses and builds (lsp/reuse.py)."""
    source = SourceFile(name, text)
    program, diagnostics, sources = compile_source(source, parse)
    analysis = Analysis(source, program, list(diagnostics), sources)
    if program is None:
        return analysis
    analysis.diagnostics = program.check(analysis.graphs, builds)
    nodes_at: dict[Span, list[tuple[Graph, Node]]] = defaultdict(list)
    scopes_at: dict[Span, list[tuple[Graph, NameScope]]] = defaultdict(list)
    for graph in analysis.graphs.values():
        for node in graph.nodes:
            if node.origin is not None:
                nodes_at[node.origin].append((graph, node))
        for scope in graph.scopes.values():
            if scope.origin is not None:
                scopes_at[scope.origin].append((graph, scope))
    analysis.nodes_at, analysis.scopes_at = dict(nodes_at), dict(scopes_at)
    return analysis


def file_path(name: str) -> str:
    """The file on disk behind a source name (`stdlib/resnet.net` is inside the package)."""
    if name.startswith(STDLIB_PREFIX):
        return str(folder("stdlib").joinpath(name[len(STDLIB_PREFIX) :]))
    return name


# ---- finding what is under the cursor -------------------------------------------------------
def contains(span: Span | None, pos: Position) -> bool:
    if span is None:
        return False
    start, end = span.start, span.end
    return (start.line, start.column) <= (pos.line, pos.column) <= (end.line, end.column)


def children(node: ast.Node) -> Iterator[ast.Node]:
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, ast.Node):
                yield item


def path_at(module: ast.Module, pos: Position) -> list[ast.Node]:
    """The AST nodes around `pos`, outermost (the definition) first, innermost last."""
    path: list[ast.Node] = []
    nodes: list[ast.Node] = list(module.items)
    while True:
        inner = [n for n in nodes if contains(n.span, pos)]
        if not inner:
            return path
        # the narrowest one: a keyword argument's value is inside the keyword, and so on
        node = min(inner, key=lambda n: _width(n.span))
        path.append(node)
        nodes = list(children(node))


def _width(span: Span) -> tuple[int, int]:
    return (span.end.line - span.start.line, span.end.column - span.start.column)


def definition_of(path: list[ast.Node]) -> Definition | None:
    first = path[0] if path else None
    return first if isinstance(first, (ast.ModelDef, ast.BlockDef, ast.ConstDef)) else None


def statements(body: tuple[ast.Stmt, ...]) -> Iterator[ast.Stmt]:
    """Every statement of a body, inside `if` and `for` too, in source order."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from statements(stmt.body)
            yield from statements(stmt.orelse)
        elif isinstance(stmt, ast.For):
            yield from statements(stmt.body)


# ---- the types the IR gave an expression ----------------------------------------------------
Typed = tuple[Graph, str, tuple[TensorType, ...]]  # graph, layer or scope name, output types


def stage_types(analysis: Analysis, span: Span) -> list[Typed]:
    """Output types of every instance of the layer or block applied at `span`."""
    found: list[Typed] = [(g, n.name, n.output_types) for g, n in analysis.nodes_at.get(span, [])]
    for graph, scope in analysis.scopes_at.get(span, []):
        types = graph.types()
        found.append((graph, scope.name, tuple(types[v] for v in scope.outputs)))
    return found


def expression_types(
    analysis: Analysis, definition: Definition, expr: ast.Expr, depth: int = 0
) -> list[Typed]:
    if depth > 32:  # `x = y`, `y = x`: the compiler reports it; the hover just gives up
        return []
    if isinstance(expr, ast.Flow):
        last = expr.stages[-1]
        while isinstance(last.body, ast.Group) and not stage_types(analysis, last.span):
            last = last.body.stages[-1]
        return stage_types(analysis, last.span)
    if isinstance(expr, (ast.Call, ast.Stage)):  # a Stage expression is a labelled call
        return stage_types(analysis, expr.span)
    if isinstance(expr, ast.Name):
        return variable_types(analysis, definition, expr.id, expr.span.start, depth + 1)
    return []


def variable_types(
    analysis: Analysis, definition: Definition, name: str, pos: Position, depth: int = 0
) -> list[Typed]:
    """Types of the tensor variable `name` as seen at `pos` in `definition`."""
    if isinstance(definition, ast.ConstDef):
        return []
    assigned = None
    for stmt in statements(definition.body):
        if (stmt.span.start.line, stmt.span.start.column) > (pos.line, pos.column):
            break
        if isinstance(stmt, ast.Assign) and any(t.id == name for t in stmt.targets):
            assigned = stmt
        if isinstance(stmt, ast.InputDecl) and stmt.name == name:
            return [
                (g, name, (v.type,))
                for g in analysis.graphs.values()
                for v in g.inputs
                if v.name == name
            ]
    if assigned is not None:
        found = expression_types(analysis, definition, assigned.value, depth)
        if len(assigned.targets) > 1:
            index = [t.id for t in assigned.targets].index(name)
            return [(g, n, (ts[index],)) for g, n, ts in found if len(ts) == len(assigned.targets)]
        return found
    if isinstance(definition, ast.BlockDef):
        names = [p.name for p in definition.inputs]
        if name in names:
            return block_input_types(analysis, definition, names.index(name))
    return []


def block_input_types(analysis: Analysis, block: ast.BlockDef, index: int) -> list[Typed]:
    """The type of a block's `index`-th input in each instance: a value read inside the
    scope but made outside it."""
    found: list[Typed] = []
    for instances in analysis.scopes_at.values():
        for graph, scope in instances:
            if scope.block != block.name or scope.origin is None:
                continue
            inside = [n for n in graph.nodes if n.name.startswith(scope.name + ".")]
            made = {v for n in inside for v in n.outputs}
            outer: list[str] = []
            for node in inside:
                outer += [v for v in node.inputs if v not in made and v not in outer]
            if len(outer) == len(block.inputs):
                found.append((graph, scope.name, (graph.types()[outer[index]],)))
    return found
