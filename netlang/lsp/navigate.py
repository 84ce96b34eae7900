"""Go-to-definition, document symbols and completion, in the compiler's terms (spans, names);
the server turns them into protocol objects."""

from __future__ import annotations

import re
from dataclasses import dataclass

from netlang.lsp.analysis import Analysis, definition_of, path_at, statements
from netlang.lsp.hover import signature
from netlang.ops import REGISTRY
from netlang.ops.registry import REQUIRED
from netlang.semantics.loader import Loader, header_span
from netlang.diagnostics.source import Position, SourceFile, Span
from netlang.syntax import ast
from netlang.syntax.parser import keywords


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    kind: str  # "model", "block", "constant", "train", "import"
    span: Span  # the whole definition
    header: Span  # where its name is
    detail: str
    children: tuple[Symbol, ...] = ()


@dataclass(frozen=True, slots=True)
class Completion:
    label: str
    kind: str  # "layer", "block", "model", "keyword", "argument", "constant"
    detail: str = ""
    documentation: str = ""
    insert: str | None = None


def definition(analysis: Analysis, pos: Position) -> tuple[str, Span] | None:
    """The source name and span that the name (or import) at `pos` refers to."""
    if analysis.program is None:
        return None
    path = path_at(analysis.program.root.module, pos)
    if not path:
        return None
    node = path[-1]
    if isinstance(node, ast.Import):
        name = Loader._resolve(analysis.source.name, node.path)
        target = analysis.sources.get(name)
        return (name, target.span(1, 1, 1, 1)) if target else None
    if not isinstance(node, ast.Name):
        return None
    found = analysis.program.root.namespace.get(node.id)
    if found is not None:
        unit, item = found
        return unit.source.name, header_span(unit.source, item)
    scope = definition_of(path)
    if isinstance(scope, (ast.ModelDef, ast.BlockDef)):
        return _variable(analysis, scope, node)
    return None


def _variable(
    analysis: Analysis, scope: ast.ModelDef | ast.BlockDef, name: ast.Name
) -> tuple[str, Span] | None:
    """Where a variable was last assigned before its use, or the parameter it is."""
    found: Span | None = None
    for stmt in statements(scope.body):
        if (stmt.span.start.line, stmt.span.start.column) >= (
            name.span.start.line,
            name.span.start.column,
        ):
            break
        if isinstance(stmt, ast.Assign):
            found = next((t.span for t in stmt.targets if t.id == name.id), found)
        elif isinstance(stmt, ast.InputDecl) and stmt.name == name.id:
            found = stmt.span
    if found is None:
        params = (*scope.params, *getattr(scope, "inputs", ()))
        found = next((p.span for p in params if p.name == name.id), None)
    return (analysis.source.name, found) if found else None


def symbols(source: SourceFile, module: ast.Module) -> list[Symbol]:
    """Models, blocks, constants, train sections and imports, in source order."""
    found = []
    for item in module.items:
        if isinstance(item, ast.Import):
            found.append(Symbol(item.path, "import", item.span, item.span, "import"))
            continue
        header = header_span(source, item)
        if isinstance(item, ast.TrainDef):
            found.append(Symbol(f"train {item.model}", "train", item.span, header, ""))
        elif isinstance(item, ast.ConstDef):
            found.append(Symbol(item.name, "constant", item.span, header, ""))
        else:
            kind = "model" if isinstance(item, ast.ModelDef) else "block"
            params = ", ".join(p.name for p in item.params)
            layers = tuple(
                Symbol(s.label or "", "layer", s.span, s.label_span or s.span, _callee(s))
                for s in _labelled_stages(item.body)
            )
            found.append(Symbol(item.name, kind, item.span, header, f"({params})", layers))
    return found


def _labelled_stages(body: tuple[ast.Stmt, ...]) -> list[ast.Stage]:
    stages: list[ast.Stage] = []

    def visit(node: ast.Node) -> None:
        if isinstance(node, ast.Stage) and node.label:
            stages.append(node)
            return  # a group's inner labels are its own scope's
        from netlang.lsp.analysis import children

        for child in children(node):
            visit(child)

    for stmt in statements(body):
        if not isinstance(stmt, (ast.If, ast.For)):
            visit(stmt)
        else:
            visit(stmt.condition if isinstance(stmt, ast.If) else stmt.iterable)
    return stages


def _callee(stage: ast.Stage) -> str:
    body = stage.body
    if isinstance(body, ast.Call) and isinstance(body.func, ast.Name):
        return body.func.id
    return body.id if isinstance(body, ast.Name) else "{ }"


# ---- completion -------------------------------------------------------------------------------
_CALLEE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*$")


def completions(text: str, pos: Position, analysis: Analysis | None) -> list[Completion]:
    """Arguments inside a layer's or block's parentheses; otherwise layers, blocks, keywords."""
    before = _text_before(text, pos)
    callee, opened = _open_call(before)
    namespace = analysis.program.root.namespace if analysis and analysis.program else {}
    if callee is not None:
        given = set(re.findall(r"([A-Za-z_]\w*)\s*=(?!=)", before[opened:]))
        if callee in namespace and isinstance(namespace[callee][1], ast.BlockDef):
            params = namespace[callee][1].params
            return [
                Completion(f"{p.name}=", "argument", p.type or "", insert=f"{p.name}=")
                for p in params
                if p.name not in given
            ]
        if callee in REGISTRY:
            return [
                Completion(
                    f"{a.name}=",
                    "argument",
                    a.kind if a.default is REQUIRED else f"{a.kind} = {a.default!r}",
                    ", ".join(f'"{c}"' for c in a.choices),
                    f"{a.name}=",
                )
                for a in REGISTRY[callee].attrs
                if a.name not in given
            ]
    items = [
        Completion(name, "layer", signature(name), spec.doc) for name, spec in REGISTRY.items()
    ]
    for name, (unit, item) in namespace.items():
        kind = {ast.ModelDef: "model", ast.BlockDef: "block"}.get(type(item), "constant")
        items.append(Completion(name, kind, unit.source.name))
    items += [Completion(word, "keyword") for word in keywords()]
    return items


def _text_before(text: str, pos: Position) -> str:
    lines = text.split("\n")
    head = lines[: pos.line - 1]
    current = lines[pos.line - 1][: pos.column - 1] if pos.line - 1 < len(lines) else ""
    return "\n".join([*head, current])


def _open_call(before: str) -> tuple[str | None, int]:
    """The name before the innermost `(` still open at the cursor, if the cursor is in one, and
    where that `(` is."""
    depth = 0
    cleaned = re.sub(r'"(\\.|[^"\\\n])*"|#[^\n]*', lambda m: " " * len(m.group()), before)
    for index in range(len(cleaned) - 1, -1, -1):
        char = cleaned[index]
        if char in ")]":
            depth += 1
        elif char in "([":
            if depth == 0:
                match = _CALLEE.search(cleaned[:index]) if char == "(" else None
                return (match.group(1) if match else None), index
            depth -= 1
        elif char in "{}" and depth == 0:
            return None, 0
    return None, 0
