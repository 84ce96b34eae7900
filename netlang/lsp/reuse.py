"""What one analysis can take from the ones before it, so a keystroke re-parses one definition,
not the file, and imported files are parsed once per content.

A file is cut before each line that starts a definition (`model M`, `block B`, `train M`,
`import "..."`); each piece is parsed on its own at its own lines, and a piece seen before (same
text at the same line) is not parsed again. Such a line can only start a new item in the whole
file too (a keyword followed by a name continues no expression or body), so when every piece
parses, the pieces' items are the file's. Any piece with an error: the whole file is parsed,
so syntax errors and their recovery are exactly the parser's own.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from typing import Generic, TypeVar

from netlang.diagnostics import Diagnostic
from netlang.diagnostics.source import SourceFile, Span
from netlang.syntax import ast
from netlang.syntax.parser import MAX_SOURCE, parse

# A line that starts a statement of a body (a name and `=`, or a statement keyword): where a
# long definition is cut; a run that does not parse alone sends the piece to the parser whole.
_STATEMENT = re.compile(
    r"[ \t]*(?:[A-Za-z_]\w*(?:[ \t]*,[ \t]*[A-Za-z_]\w*)*[ \t]*=(?!=)|"
    r"(?:input|output|return|assert|if|for)[ \t])"
)
_WRAPPER = "model __statements__ {"
_LONG = 24  # lines: shorter definitions are parsed whole
_PIECE = re.compile(r'^(?=(?:model|block|train)[ \t]+[A-Za-z_]|import[ \t]+")', re.M)

Key = TypeVar("Key")
Value = TypeVar("Value")
Parsed = tuple[ast.Module | None, list[Diagnostic]]


class Recent(Generic[Key, Value]):
    """A mapping that keeps the `size` entries used last."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Key, Value] = OrderedDict()

    def get(self, key: Key) -> Value | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Key, value: Value) -> Value:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


class ParseCache:
    """`parse`, remembering files by content and definitions by text and line."""

    def __init__(self, files: int = 64, pieces: int = 4096) -> None:
        self.files: Recent[tuple[str, str], Parsed] = Recent(files)
        self.pieces: Recent[tuple[str, int, str], tuple[ast.Definition, ...]] = Recent(pieces)
        self.failed: Recent[tuple[str, int, str], bool] = Recent(pieces)
        self.parsed_pieces = 0  # pieces parsed since the start (for tests: what was reused)

    def __call__(self, source: SourceFile) -> Parsed:
        key = (source.name, source.text)
        found = self.files.get(key)
        if found is None:
            # a file over the size limit is refused whole, as `check` refuses it
            items = self._pieces(source) if len(source.text) <= MAX_SOURCE else None
            found = (_module(source, items), []) if items is not None else parse(source)
            self.files.put(key, found)
        return found

    def _pieces(self, source: SourceFile) -> list[ast.Definition] | None:
        """The file's items parsed piece by piece, or None when a piece has an error."""
        text, items = source.text, []
        starts = [0, *(m.start() for m in _PIECE.finditer(text) if m.start() > 0)]
        line = 1
        for start, end in zip(starts, [*starts[1:], len(text)]):
            piece = text[start:end]
            found = self._statements(source.name, line, piece) or self._piece(
                source.name, line, piece
            )
            if found is None:
                return None
            items.extend(found)
            line += piece.count("\n")
        return items

    def _piece(self, name: str, line: int, piece: str) -> tuple[ast.Definition, ...] | None:
        """The items of `piece` (a file's text from `line` on) parsed as a file; None: errors."""
        key = (name, line, piece)
        found = self.pieces.get(key)
        if found is None and not self.failed.get(key):
            module, errors = parse(SourceFile(name, "\n" * (line - 1) + piece))
            self.parsed_pieces += 1
            if module is None or errors:
                self.failed.put(key, True)
                return None
            found = self.pieces.put(key, module.items)
        return found

    def _statements(self, name: str, line: int, piece: str) -> tuple[ast.Definition, ...] | None:
        """A long model or block put together from runs of its statements, each parsed inside
        an empty definition at its own lines, so a keystroke re-parses a few lines; None when
        the piece is not one or a run does not parse alone (then the piece is parsed whole)."""
        lines = piece.split("\n")
        indent = next((_indent(t) for t in lines[1:] if t.strip()), None)
        if not piece.startswith(("model", "block")) or len(lines) < _LONG or not indent:
            return None
        cuts = [i for i, t in enumerate(lines) if i > 0 and _STATEMENT.match(t)]
        cuts = [c for c in cuts if _indent(lines[c]) == indent]
        if not cuts:
            return None
        runs = list(zip([0, *cuts], [*cuts, len(lines)]))
        parts: list[tuple[ast.Definition, ...]] = []
        for index, (start, end) in enumerate(runs):
            text = "\n".join(lines[start:end])
            if index == 0:
                text += "\n}"  # the header, its body cut short
            else:
                text = _WRAPPER + "\n" + text + ("\n}" if index < len(runs) - 1 else "")
            first = line + start - (0 if index == 0 else 1)
            found = self._piece(name, first, text)
            last = index == len(runs) - 1
            if not found or not isinstance(found[0], (ast.ModelDef, ast.BlockDef)):
                return None
            if len(found) != 1 and not last:  # only the last run reaches past the body
                return None
            parts.append(found)
        head = parts[0][0]
        if len(parts[0]) != 1 or (isinstance(head, ast.ModelDef) and head.base is not None):
            return None
        body = tuple(s for part in parts for s in part[0].body)
        span = Span(name, head.span.start, parts[-1][0].span.end)
        return (dataclasses.replace(head, span=span, body=body), *parts[-1][1:])


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _module(source: SourceFile, items: list[ast.Definition]) -> ast.Module:
    """The module the parser makes of these items: it spans them (a file of none: 1:1)."""
    if not items:
        return ast.Module(source.span(1, 1, 1, 1), ())
    return ast.Module(Span(source.name, items[0].span.start, items[-1].span.end), tuple(items))
