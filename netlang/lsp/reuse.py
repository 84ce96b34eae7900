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

import re
from collections import OrderedDict
from typing import Generic, TypeVar

from netlang.diagnostics import Diagnostic
from netlang.diagnostics.source import SourceFile, Span
from netlang.syntax import ast
from netlang.syntax.parser import parse

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
        self.parsed_pieces = 0  # pieces parsed since the start (for tests: what was reused)

    def __call__(self, source: SourceFile) -> Parsed:
        key = (source.name, source.text)
        found = self.files.get(key)
        if found is None:
            items = self._pieces(source)
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
            key = (source.name, line, piece)
            found = self.pieces.get(key)
            if found is None:
                module, errors = parse(SourceFile(source.name, "\n" * (line - 1) + piece))
                self.parsed_pieces += 1
                if module is None or errors:
                    return None
                found = self.pieces.put(key, module.items)
            items.extend(found)
            line += piece.count("\n")
        return items


def _module(source: SourceFile, items: list[ast.Definition]) -> ast.Module:
    """The module the parser makes of these items: it spans them (a file of none: 1:1)."""
    if not items:
        return ast.Module(source.span(1, 1, 1, 1), ())
    return ast.Module(Span(source.name, items[0].span.start, items[-1].span.end), tuple(items))
