"""`netlang fmt`: SourceFile -> canonical `.net` text, from the AST plus the comments.

The AST carries no comments, so the source is scanned once more for them (and for braces, which
tell a body's comments from the ones after it). Comments keep their place: above a statement,
at the end of its line, or on the stage of a broken flow they sat beside; a comment inside an
expression anywhere else moves above its statement. Blank lines between statements survive (at
most one); a body written on one line stays on one line while it fits.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netlang.diagnostics import Diagnostic
from netlang.diagnostics.source import SourceFile, Span
from netlang.syntax import ast
from netlang.syntax.format_expr import OR, WIDTH, ExprPrinter, Item, StageNotes
from netlang.syntax.parser import parse

Pos = tuple[int, int]  # (line, column), 1-based like Span
_STRING_AT_END = re.compile(r'"(?:\\.|[^"\\\n])*"\Z')


@dataclass(frozen=True, slots=True)
class Comment:
    pos: Pos
    text: str


def format_source(source: SourceFile) -> tuple[str | None, list[Diagnostic]]:
    """The canonical text of `source`, or None and the syntax errors that stop formatting."""
    module, diagnostics = parse(source)
    if module is None:
        return None, diagnostics
    return _Formatter(source.text).module(module), []


def _start(node: ast.Node) -> Pos:
    return node.span.start.line, node.span.start.column


def _end(node: ast.Node) -> Pos:
    return node.span.end.line, node.span.end.column


def _scan(text: str) -> tuple[list[Comment], dict[str, list[Pos]]]:
    """Comments, and where each `{` and `}` is, outside strings (which never span lines)."""
    comments: list[Comment] = []
    braces: dict[str, list[Pos]] = {"{": [], "}": []}
    for number, line in enumerate(_lines(text), 1):
        i, quoted = 0, False
        while i < len(line):
            char = line[i]
            if quoted:
                quoted, i = char != '"', i + (2 if char == "\\" else 1)
                continue
            if char == "#":
                comments.append(Comment((number, i + 1), line[i:].rstrip()))
                break
            if char in braces:
                braces[char].append((number, i + 1))
            quoted, i = char == '"', i + 1
    return comments, braces


def _lines(text: str, *, keepends: bool = False) -> list[str]:
    """The source's lines as the parser counts them: split at `\n` only (str.splitlines would
    also split at form feeds, NEL or U+2028, which a comment may hold)."""
    parts = text.split("\n")
    last = parts.pop()
    lines = [p + "\n" for p in parts] if keepends else parts
    return lines + [last] if last else lines


class _Formatter:
    def __init__(self, text: str) -> None:
        self.lines = _lines(text)
        self.offsets = [0]
        for line in _lines(text, keepends=True):
            self.offsets.append(self.offsets[-1] + len(line))
        self.text = text
        self.comments, self.braces = _scan(text)
        self.expr = ExprPrinter(self._literal)
        self.pads: dict[int, int] = {}  # train entry id -> key column width

    # ---- source access
    def _slice(self, span: Span) -> str:
        start = self.offsets[span.start.line - 1] + span.start.column - 1
        return self.text[start : self.offsets[span.end.line - 1] + span.end.column - 1]

    def _literal(self, span: Span) -> str:
        return self._slice(span)

    def _string_at_end(self, node: ast.Node) -> str:
        """The string literal a node ends with (an import's path, an assert's message)."""
        match = _STRING_AT_END.search(self._slice(node.span))
        assert match is not None, "the grammar ends these nodes with a string"
        return match.group(0)

    def _brace(self, char: str, after: Pos) -> Pos:
        positions = self.braces[char]
        return positions[bisect.bisect_left(positions, after)]

    def _take(self, before: Pos) -> list[Comment]:
        """Remove and return the comments positioned before `before`."""
        count = bisect.bisect_left([c.pos for c in self.comments], before)
        taken, self.comments = self.comments[:count], self.comments[count:]
        return taken

    def _blank_between(self, last_line: int, next_line: int) -> bool:
        return any(not self.lines[n].strip() for n in range(last_line, next_line - 1))

    # ---- sequences of statements, definitions, entries
    def module(self, module: ast.Module) -> str:
        lines = self._items(module.items, (0, 0), (len(self.lines) + 1, 0), 0, self._definition)
        return "\n".join(lines[0]).strip("\n") + "\n" if lines[0] else ""

    def _braced(
        self,
        prefix: str,
        items: Sequence[Any],
        after: Pos,
        indent: int,
        render: Callable[[Any, int], list[str]],
    ) -> tuple[list[str], Pos]:
        """`prefix { items }` whose `{` is the first after `after`; and where its `}` is."""
        open_ = self._brace("{", after)
        close = self._brace("}", _end(items[-1]) if items else open_)
        if open_[0] == close[0]:  # a line of its own in the source, so no comments inside
            rendered = [render(item, 0) for item in items]
            if all(len(r) == 1 for r in rendered):
                inner = "; ".join(r[0] for r in rendered)
                text = f"{prefix} {{ {inner} }}" if items else f"{prefix} {{}}"
                if len(text) <= WIDTH:
                    return [text], close
        body, brace_comment = self._items(items, open_, close, indent + 4, render)
        first = f"{prefix} {{" + (f"  {brace_comment}" if brace_comment else "")
        return [first, *body, " " * indent + "}"], close

    def _items(
        self,
        items: Sequence[Any],
        open_: Pos,
        close: Pos,
        indent: int,
        render: Callable[[Any, int], list[str]],
    ) -> tuple[list[str], str | None]:
        """Items one a line with the comments around them; also the comment after the `{`."""
        pad, lines, brace_comment = " " * indent, [], None
        limit = _start(items[0]) if items else close
        if self.comments and self.comments[0].pos[0] == open_[0] and self.comments[0].pos < limit:
            brace_comment = self._take(limit)[0].text
        last_line = open_[0]
        for i, item in enumerate(items):
            for comment in self._take(_start(item)):
                if lines and self._blank_between(last_line, comment.pos[0]):
                    lines.append("")
                lines.append(pad + comment.text)
                last_line = comment.pos[0]
            if lines and self._blank_between(last_line, item.span.start.line):
                lines.append("")
            rendered = render(item, indent)
            if i and isinstance(item, ast.TestCheck) and rendered[0].lstrip()[:1] in "([+-":
                rendered[0] = pad + "; " + rendered[0].lstrip()  # else it would continue the last
            following = _start(items[i + 1]) if i + 1 < len(items) else close
            head = self.comments[0] if self.comments else None
            if head and head.pos[0] == item.span.end.line and head.pos < following:
                rendered[-1] += "  " + self.comments.pop(0).text
            lines += rendered
            last_line = item.span.end.line
        for comment in self._take(close):
            if lines and self._blank_between(last_line, comment.pos[0]):
                lines.append("")
            lines.append(pad + comment.text)
            last_line = comment.pos[0]
        return lines, brace_comment

    # ---- definitions
    def _definition(self, item: ast.Definition, indent: int) -> list[str]:
        match item:
            case ast.Import():
                return [*self._hoist(_end(item)), f"import {self._string_at_end(item)}"]
            case ast.ConstDef():
                return self._simple(item, f"{item.name} = ", item.value, 0)
            case ast.ModelDef():
                return self._model(item)
            case ast.BlockDef():
                groups = [item.params] if item.params else []
                header = self._header(f"block {item.name}", [*groups, item.inputs], " {")
                params = (*item.params, *item.inputs)
                after = _end(params[-1]) if params else _start(item)
                return self._body(header, item.body, after, 0)
            case ast.TrainDef():
                return self._train_body(f"train {item.model}", item.entries, _start(item), 0)
        raise TypeError(f"not a definition: {item!r}")

    def _model(self, model: ast.ModelDef) -> list[str]:
        groups = [model.params] if model.params else []
        after = _end(model.params[-1]) if model.params else _start(model)
        if model.base is None:
            return self._body(
                self._header(f"model {model.name}", groups, " {"), model.body, after, 0
            )
        base = model.base
        after = _end((*base.args, *base.keywords, base.func)[-1])
        call = self.expr.flat(base)
        suffix = " {" if model.body else ""
        header = self._header(f"model {model.name}", groups, f" = {call}{suffix}")
        if len(header) == 1 and len(header[0]) <= WIDTH:
            head = header
        else:
            head = self._header(f"model {model.name}", groups, "")
            head.append("    = " + self.expr.layout(base, 6, 4, len(suffix)) + suffix)
        if not model.body:
            return [*self._hoist(_end(model)), *"\n".join(head).split("\n")]
        return self._body(head, model.body, after, 0)

    def _header(self, name: str, groups: Sequence[Sequence[ast.Param]], suffix: str) -> list[str]:
        """`name(params)(inputs) suffix`, each group filled and aligned after its `(`."""
        flats = ["(" + ", ".join(self.expr.item(self._param(p)) for p in g) + ")" for g in groups]
        text = name
        for i, group in enumerate(groups):
            tail = len("".join(flats[i + 1 :]) + suffix)
            at = len(text.rsplit("\n", 1)[-1]) + 1
            text += "(" + self.expr.fill([self._param(p) for p in group], ")", at, tail)
        return (text + suffix).split("\n")

    @staticmethod
    def _param(param: ast.Param) -> Item:
        typed = f"{param.name}: {param.type}" if param.type else param.name
        return (f"{typed} = ", param.default) if param.default is not None else (typed, None)

    def _body(
        self, header: list[str], body: Sequence[ast.Stmt], after: Pos, indent: int
    ) -> list[str]:
        """A definition's or statement's header lines, then its `{ body }`."""
        hoisted = self._hoist(self._brace("{", after))
        lines, _ = self._braced(header[-1].removesuffix(" {"), body, after, indent, self._stmt)
        return [*hoisted, *header[:-1], *lines]

    def _hoist(self, before: Pos) -> list[str]:
        """Comments inside a construct where none can stay: they move above it."""
        return [c.text for c in self._take(before)]

    # ---- statements
    def _stmt(self, stmt: ast.Stmt | ast.TestShapes | ast.TestCheck, indent: int) -> list[str]:
        pad = " " * indent
        match stmt:
            case ast.If():
                return self._if(stmt, indent, "if")
            case ast.For():
                header = f"{pad}for {stmt.var.id} in {self.expr.flat(stmt.iterable)} {{"
                return self._body([header], stmt.body, _end(stmt.iterable), indent)
            case ast.TestBlock():
                hoisted = self._hoist(self._brace("{", _start(stmt)))
                lines, _ = self._braced(f"{pad}test", stmt.items, _start(stmt), indent, self._stmt)
                return [pad + c for c in hoisted] + lines
            case ast.Assign(annotation=None):
                targets = ", ".join(t.id for t in stmt.targets)
                return self._simple(stmt, f"{targets} = ", stmt.value, indent)
            case ast.Assign(annotation=ast.ShapeAnnotation() as note):
                dims = ", ".join(self.expr.flat(d) for d in note.dims)
                prefix = f"{stmt.targets[0].id}: {note.dtype or ''}[{dims}] = "
                return self._simple(stmt, prefix, stmt.value, indent)
            case ast.Return():
                return self._simple(stmt, "return ", stmt.values, indent)
            case ast.TestCheck():
                return self._simple(stmt, "", stmt.condition, indent, OR)
            case ast.Assert():
                message = f", {self._string_at_end(stmt)}" if stmt.message is not None else ""
                lines = self._simple(stmt, "assert ", stmt.condition, indent, tail=len(message))
                return [*lines[:-1], lines[-1] + message]
            case _:
                return [*map((pad + "{}").format, self._hoist(_end(stmt))), pad + self._line(stmt)]

    def _line(self, stmt: ast.Node) -> str:
        """Statements that are one line whatever their length."""
        flat = self.expr.flat
        match stmt:
            case ast.InputDecl():
                return f"input {stmt.name}: {stmt.dtype}[{', '.join(flat(d) for d in stmt.dims)}]"
            case ast.OutputDecl():
                return "output " + ", ".join(n.id for n in stmt.names)
            case ast.Doc():
                return self._slice(stmt.span)
            case ast.TestShapes():
                inputs = ", ".join(flat(e, OR) for e in stmt.inputs)
                return f"input {inputs} -> output {', '.join(flat(e, OR) for e in stmt.outputs)}"
        raise TypeError(f"not a statement: {stmt!r}")

    def _if(self, stmt: ast.If, indent: int, keyword: str) -> list[str]:
        pad = " " * indent
        hoisted = [pad + c for c in self._hoist(self._brace("{", _end(stmt.condition)))]
        prefix = f"{pad}{keyword} {self.expr.flat(stmt.condition)}"
        lines, close = self._braced(prefix, stmt.body, _end(stmt.condition), indent, self._stmt)
        if not stmt.orelse:
            return hoisted + lines
        inner = stmt.orelse[0]
        if (
            len(stmt.orelse) == 1
            and isinstance(inner, ast.If)
            and not (self.comments and self.comments[0].pos < _start(inner.condition))
        ):
            chain = self._if(inner, indent, "elif")
            chain[0] = lines.pop() + " " + chain[0].lstrip()
            return hoisted + lines + chain
        rest, _ = self._braced(lines.pop() + " else", stmt.orelse, close, indent, self._stmt)
        return hoisted + lines + rest

    def _simple(
        self,
        stmt: ast.Node,
        prefix: str,
        value: ast.Expr | tuple[ast.Expr, ...],
        indent: int,
        slot: int = 0,
        tail: int = 0,
    ) -> list[str]:
        """`prefix value[, value...]`, comments inside kept on their flow stages or hoisted."""
        values = value if isinstance(value, tuple) else (value,)
        inside = self._take(_end(stmt))
        for expr in values:
            if isinstance(expr, ast.Flow):
                inside = self._attach(expr, inside)
        pad = " " * indent
        text, at = pad + prefix, indent + len(prefix)
        for i, expr in enumerate(values):
            last = i == len(values) - 1
            part = self.expr.layout(expr, at, indent, tail if last else 1, slot)
            text += part + ("" if last else ", ")
            at = len(text) - text.rfind("\n") - 1
        return [pad + c.text for c in inside] + text.split("\n")

    def _attach(self, flow: ast.Flow, comments: list[Comment]) -> list[Comment]:
        """Give the comments between a flow's stages to those stages; return the others."""
        rest, previous, previous_end = [], None, _end(flow.source)
        for stage in flow.stages:
            for comment in [c for c in comments if previous_end <= c.pos < _start(stage)]:
                comments.remove(comment)
                notes = self.expr.notes
                if comment.pos[0] == previous_end[0] and previous is not None:
                    notes.setdefault(id(previous), StageNotes()).after = comment.text
                else:
                    notes.setdefault(id(stage), StageNotes()).before.append(comment.text)
            previous, previous_end = stage, _end(stage)
        rest.extend(comments)
        return rest

    # ---- train sections
    def _train_body(
        self, prefix: str, entries: Sequence[ast.TrainEntry | ast.StageDef], after: Pos, indent: int
    ) -> list[str]:
        hoisted = self._hoist(self._brace("{", after))
        self._align(entries)
        lines, _ = self._braced(prefix, entries, after, indent, self._entry)
        return [" " * indent + c for c in hoisted] + lines

    def _align(self, entries: Sequence[ast.TrainEntry | ast.StageDef]) -> None:
        """Values line up in a column within each run of entries that no blank line breaks."""
        runs: list[list[ast.TrainEntry]] = [[]]
        previous: ast.Node | None = None
        for entry in entries:
            broken = previous is not None and self._blank_between(
                previous.span.end.line, entry.span.start.line
            )
            if broken or not isinstance(entry, ast.TrainEntry):
                runs.append([])
            if isinstance(entry, ast.TrainEntry):
                runs[-1].append(entry)
            previous = entry
        for run in runs:
            for entry in run:
                self.pads[id(entry)] = max(len(e.key) for e in run)

    def _entry(self, entry: ast.TrainEntry | ast.StageDef, indent: int) -> list[str]:
        pad = " " * indent
        if isinstance(entry, ast.StageDef):
            return self._train_body(
                f"{pad}stage {entry.name}", entry.entries, _start(entry), indent
            )
        # Indent 0 is the one-line form `train M { a 1; b 2 }`, which aligns nothing.
        key = entry.key.ljust(self.pads.get(id(entry), 0) if indent else 0)
        value = entry.value
        if isinstance(value, ast.Call) and value.span == entry.span:  # `key a=1 b=2`
            hoisted = [pad + c for c in self._hoist(_end(entry))]
            keywords = " ".join(f"{k.name}={self.expr.flat(k.value)}" for k in value.keywords)
            return [*hoisted, f"{pad}{key} {keywords}"]
        return self._simple(entry, key + " ", value, indent)
