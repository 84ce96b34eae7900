"""Loading: a root file and its imports -> a `Unit` per file, with namespaces and load
diagnostics.

Imports name standard-library modules or `.net` files by relative path, nothing else: a model
file from an untrusted source must not make `check` read (and print lines of) arbitrary files.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from netlang.diagnostics import (
    Diagnostic,
    DiagnosticSink,
    Label,
    NameHints,
    did_you_mean,
    error,
    warning,
)
from netlang.diagnostics.source import Position, SourceFile, Span
from netlang.syntax import ast
from netlang.syntax.assets import read_stdlib, stdlib_names
from netlang.syntax.parser import parse
from netlang.syntax.scans import decimal_commas

Parse = Callable[[SourceFile], tuple[ast.Module | None, list[Diagnostic]]]
STDLIB_PREFIX = "stdlib/"
_STDLIB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.net)?")


@dataclass(slots=True)
class Unit:
    """One parsed file and the names visible in it (its own definitions shadow imported ones)."""

    source: SourceFile
    module: ast.Module
    definitions: dict[str, ast.ModelDef | ast.BlockDef | ast.ConstDef] = field(default_factory=dict)
    trains: list[ast.TrainDef] = field(default_factory=list)
    # name -> (defining unit, definition); includes imported names
    namespace: dict[str, tuple[Unit, ast.ModelDef | ast.BlockDef | ast.ConstDef]] = field(
        default_factory=dict
    )
    # names two imports define differently -> those files: an error only where this file uses
    # one (two stdlib families may each have their own helper block of the same name)
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # "did you mean" over the namespace, every op and builtin: built at the first unknown name
    name_hints: NameHints | None = field(default=None, compare=False, repr=False)


def ambiguity(unit: Unit, name: str, span: Span) -> Diagnostic:
    """NL2006 where a file uses a name that two of its imports define differently."""
    files = " and ".join(unit.ambiguous[name])
    return error(
        "NL2006",
        f"`{name}` is imported twice, from {files}",
        span,
        hint=f"define `{name}` in this file, or import only one of them",
    )


class Loader:
    """Reads files once each, follows imports, reports missing files and cycles."""

    def __init__(self, sink: DiagnosticSink, parse: Parse = parse) -> None:
        self.sink = sink
        self.parse = parse  # the language server's parses reuse those of earlier versions
        self.sources: dict[str, SourceFile] = {}
        self.units: dict[str, Unit | None] = {}
        self._stack: list[str] = []

    def load_source(self, source: SourceFile) -> Unit | None:
        self.sources[source.name] = source
        if source.name in self.units:
            return self.units[source.name]
        module, diagnostics = self.parse(source)
        for d in diagnostics:
            self.sink.report(d)
        # also beside a syntax error: `x * 0,5` does not parse, and the comma is why
        for line, column, text in decimal_commas(source.text):
            decimal = text.replace(",", ".")
            message = f"`{text}` reads as two numbers, {text.replace(',', ' and ')}"
            where = source.span(line, column, line, column + len(text))
            self.sink.report(warning("NL1007", message, where, hint=f"a decimal is `{decimal}`"))
        if module is None:
            self.units[source.name] = None
            return None
        unit = Unit(source, module)
        self.units[source.name] = unit
        self._stack.append(source.name)
        self._collect(unit)
        self._stack.pop()
        return unit

    def _collect(self, unit: Unit) -> None:
        for item in unit.module.items:
            if isinstance(item, ast.Import):
                self._import(unit, item)
            elif isinstance(item, ast.TrainDef):
                unit.trains.append(item)
            else:
                previous = unit.definitions.get(item.name)
                if previous is not None:
                    self.sink.report(
                        error(
                            "NL2006",
                            f"`{item.name}` is defined twice",
                            header_span(unit.source, item),
                            secondary=[
                                Label(header_span(unit.source, previous), "first defined here")
                            ],
                        )
                    )
                    continue
                unit.definitions[item.name] = item
                unit.namespace[item.name] = (unit, item)
                unit.ambiguous.pop(item.name, None)

    def _import(self, unit: Unit, item: ast.Import) -> None:
        refusal = _refusal(item.path)
        if refusal is not None:
            self.sink.report(
                error("NL2024", f'cannot import "{item.path}"', item.span, hint=refusal)
            )
            return
        name = self._resolve(unit.source.name, item.path)
        try:
            text = self._read(name)
        except UnicodeDecodeError:
            hint = f"{name} is not UTF-8 text, so it is not netlang source"
            self.sink.report(error("NL2024", f'cannot import "{item.path}"', item.span, hint=hint))
            return
        if text is None:
            if item.path.startswith("."):
                hint = f"there is no file {name}"
            else:
                hint = did_you_mean(item.path, stdlib_names()) or (
                    "standard-library names: " + ", ".join(stdlib_names())
                )
            self.sink.report(
                error("NL2008", f'cannot find import "{item.path}"', item.span, hint=hint)
            )
            return
        if name in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(name) :], name])
            self.sink.report(error("NL2009", f"import cycle: {cycle}", item.span))
            return
        imported = self.load_source(SourceFile(name, text))
        if imported is None:
            return
        for key, definition in imported.definitions.items():
            clash = unit.namespace.get(key)
            if key in unit.ambiguous:
                unit.ambiguous[key] += (imported.source.name,)
            elif clash is None:
                unit.namespace[key] = (imported, definition)
            elif clash[0] is not unit and clash[1] is not definition:
                del unit.namespace[key]
                unit.ambiguous[key] = (clash[0].source.name, imported.source.name)

    @staticmethod
    def _resolve(importer: str, path: str) -> str:
        if path.startswith(("./", "../")):
            base = posixpath.dirname(importer) if not importer.startswith("<") else ""
            return posixpath.normpath(posixpath.join(base, path))
        return f"{STDLIB_PREFIX}{path.removesuffix('.net')}.net"

    @staticmethod
    def _read(name: str) -> str | None:
        if name.startswith(STDLIB_PREFIX):
            return read_stdlib(name[len(STDLIB_PREFIX) :].removesuffix(".net"))
        path = Path(name)
        return path.read_text(encoding="utf-8") if path.is_file() else None


def _refusal(path: str) -> str | None:
    """Why `import "path"` may not be read (None: it names netlang source)."""
    if path.startswith(("./", "../")):
        if not path.endswith(".net"):
            return "only .net files can be imported; other files are never read"
        return None
    if not _STDLIB_NAME.fullmatch(path):
        return (
            'a standard-library name is letters, digits and "_"; '
            'a file is imported by a relative path such as "./lib/blocks.net"'
        )
    return None


def header_span(source: SourceFile, item: ast.Node) -> Span:
    """A definition's first line, where its name is: the place to point at, not its whole body."""
    start = item.span.start
    text = source.line(start.line).rstrip().removesuffix("{").rstrip()
    return Span(item.span.file, start, Position(start.line, max(len(text) + 1, start.column + 1)))
