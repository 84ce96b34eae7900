"""When a model's check can be reused: a key that holds everything `Program.build` reads.

A build reads the model's definition, every definition it names (in the file that names it,
transitively, through imports too), the root file's train sections, and the names each of
those files can see and what each is (a misspelt name's hint lists the names, or the
models among them). The key holds each of those
definitions as its file, position and source lines, so an edit elsewhere (another model, a
comment, a definition nobody names) leaves it equal, and any edit to what it reads changes it.
Words are taken from the text, comments and strings included: more than the build reads, never
less.
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from netlang.diagnostics.source import SourceFile
from netlang.semantics.loader import Unit
from netlang.syntax import ast

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Where = tuple[str, int, int, int, int]  # file, start line and column, end line and column


class BuildKeys:
    """Keys for the builds of one program (each file's lines are split once)."""

    def __init__(self, root: Unit) -> None:
        self.root = root
        self.lines: dict[str, list[str]] = {}
        self.kinds: dict[str, Kinds] = {}  # by file: one object every key shares

    def key(self, name: str) -> Hashable | None:
        """The key of `build(name, tests=True, fit=True)`; None when `name` is not defined."""
        entry = self.root.namespace.get(name)
        if entry is None:
            return None
        read: dict[Where, str] = {}
        units: dict[str, Unit] = {}
        stack = [entry, *((self.root, train) for train in self.root.trains)]
        while stack:
            unit, definition = stack.pop()
            span = definition.span
            where = (
                unit.source.name,
                span.start.line,
                span.start.column,
                span.end.line,
                span.end.column,
            )
            if where in read:
                continue
            read[where] = text = self._text(unit.source, definition)
            units[unit.source.name] = unit
            for word in set(_WORD.findall(text)):
                found = unit.namespace.get(word)
                if found is not None:
                    stack.append(found)
        visible = tuple((file, self._kinds(unit)) for file, unit in sorted(units.items()))
        return name, tuple(sorted(read.items())), visible

    def _text(self, source: SourceFile, definition: ast.Node) -> str:
        lines = self.lines.get(source.name)
        if lines is None:
            lines = self.lines[source.name] = source.text.split("\n")
        span = definition.span
        return "\n".join(lines[span.start.line - 1 : span.end.line])

    def _kinds(self, unit: Unit) -> Kinds:
        kinds = self.kinds.get(unit.source.name)
        if kinds is None:
            kinds = self.kinds[unit.source.name] = Kinds(unit)
        return kinds


class Kinds:
    """The names a file sees and what each is (hints list them: "models here: ..."), hashed
    once: every model's key holds them, so a file of thousands of models would otherwise
    make and hash thousands of names per model (quadratic time and memory)."""

    __slots__ = ("items", "_hash")

    def __init__(self, unit: Unit) -> None:
        self.items = tuple((name, type(d).__name__) for name, (_, d) in unit.namespace.items())
        self._hash = hash(self.items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Kinds) and self.items == other.items)
