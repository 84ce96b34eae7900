"""The compiler driver and Python API: source -> Program -> ir.Graph, diagnostics as data."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netlang.diagnostics import CompileError, Diagnostic, DiagnosticSink, Severity
from netlang.ir import Graph
from netlang.semantics.elaborate import Elaborator
from netlang.semantics.frames import Failed
from netlang.semantics.instances import Instance
from netlang.semantics.lints import graph_warnings
from netlang.semantics.loader import Loader, Parse, Unit
from netlang.semantics.model_tests import run_tests
from netlang.semantics.reuse import BuildKeys
from netlang.semantics.tasks import check_task
from netlang.semantics.train import check_train_targets, elaborate_train
from netlang.semantics.train_fit import check_train_fit
from netlang.diagnostics.source import SourceFile, Span
from netlang.syntax import ast
from netlang.syntax.parser import parse

# build(name, tests=True, fit=True) results by BuildKeys.key
Builds = dict[Hashable, tuple[Graph | None, list[Diagnostic]]]


@dataclass
class Program:
    """A loaded `.net` file with its imports; builds graphs for its models."""

    root: Unit
    sources: dict[str, SourceFile]
    diagnostics: list[Diagnostic] = field(default_factory=list)  # warnings from loading
    # block instances its models' elaborations share (semantics/instances.py)
    instances: dict[Hashable, Instance] = field(default_factory=dict, repr=False, compare=False)

    @property
    def models(self) -> list[str]:
        """Models defined in the root file, in source order."""
        return [d.name for d in self.root.module.items if isinstance(d, ast.ModelDef)]

    @property
    def source(self) -> SourceFile:
        return self.root.source

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.root.source.text.encode()).hexdigest()

    @property
    def imported_trained(self) -> list[str]:
        """Imported models this file's train sections train (built and checked as its own)."""
        imported = [n for n, (_, d) in self.root.namespace.items() if isinstance(d, ast.ModelDef)]
        trained = [t.model for t in self.root.trains]
        return [n for n in dict.fromkeys(trained) if n in imported and n not in self.models]

    def default_model(self) -> str:
        """The model to use when none is named: the one with a train section, else the first."""
        trained = [t.model for t in self.root.trains if t.model in self.models]
        trained += self.imported_trained
        if trained:
            return trained[0]
        if not self.models:
            raise CompileError([_no_model(self.root)], self.sources)
        return self.models[0]

    def build(
        self,
        name: str | None = None,
        arguments: dict[str, Any] | None = None,
        *,
        tests: bool = False,
        fit: bool = False,
        train_settings: Sequence[ast.TrainEntry] = (),
        argument_spans: Mapping[str, Span] | None = None,
    ) -> tuple[Graph | None, list[Diagnostic]]:
        """Elaborate one model; never raises for user errors. With `tests`, run its test blocks;
        with `fit`, hold its train section against the model (layer patterns, classes).

        The train section is the model's own, else (for an alias) its nearest base's, evaluated
        with that base's arguments; `train_settings` (`--set`) replace its entries by key;
        `argument_spans`: where the arguments were typed (`--set`), to show their mistakes."""
        sink = DiagnosticSink()
        try:
            name = name or self.default_model()
        except CompileError as exc:
            return None, exc.diagnostics
        arguments = dict(arguments or {})
        elaborator = Elaborator(self.root, sink, self.instances)
        graph = elaborator.model(name, arguments, argument_spans=argument_spans)
        sections = check_train_targets(self.root, sink)
        if graph is None:  # the train section's own mistakes are reported in the same run
            if name in sections:
                elaborate_train(sections[name], self.root, arguments, sink, train_settings)
            return None, sink.items
        owners = [(name, graph.arguments), *elaborator.bases]
        section, section_arguments = next(
            ((sections[n], a) for n, a in owners if n in sections), (None, graph.arguments)
        )
        if section is None and train_settings:
            section = ast.TrainDef(train_settings[0].span, name, ())
        if section is not None:
            graph.train = elaborate_train(
                section, self.root, section_arguments, sink, train_settings
            )
            if len(graph.inputs) > 1:  # what the data must feed (netlang.data.inputs)
                graph.train.inputs = tuple(value.name for value in graph.inputs)
            check_task(graph, graph.train, sink)
            if fit:
                check_train_fit(graph.train, graph, sink)
        if tests:
            for diagnostic in graph_warnings(graph):
                sink.report(diagnostic)

            def rebuild(shapes: dict[str, tuple[int, ...]]) -> Graph | None:
                return Elaborator(self.root, sink, self.instances).model(name, arguments, shapes)

            run_tests(graph, elaborator.tests, self.root, sink, rebuild)
        if sink.has_errors:
            return None, sink.items
        return graph, sink.items

    def parameters(self, name: str | None = None) -> list[str]:
        """The parameter names of model `name` (default: default_model()), in order."""
        definition = self.root.namespace.get(name or self.default_model(), (None, None))[1]
        return [p.name for p in definition.params] if isinstance(definition, ast.ModelDef) else []

    def model(self, name: str | None = None, **arguments: Any) -> Graph:
        """The IR graph of model `name` with the given compile-time arguments.

        Raises:
            CompileError: with the diagnostics, if the model does not compile.
        """
        graph, diagnostics = self.build(name, arguments)
        if graph is None:
            raise CompileError(diagnostics, self.sources)
        return graph

    def check(
        self, graphs: dict[str, Graph] | None = None, builds: Builds | None = None
    ) -> list[Diagnostic]:
        """Every model in the root file with default arguments, its tests and train section.

        The graphs that build are put into `graphs`, when given (the language server's hovers
        read them), so checking and showing shapes elaborate each model once. `builds` holds
        earlier checks' builds by what they read (semantics/reuse.py): those still valid are
        taken from it, and it is left holding this check's.
        """
        diagnostics = list(self.diagnostics)
        sink = DiagnosticSink(diagnostics)
        keys, kept = BuildKeys(self.root), {}
        for name in self.models + self.imported_trained:
            key = keys.key(name) if builds is not None else None
            built = builds.get(key) if builds is not None and key is not None else None
            if built is None:
                built = self.build(name, tests=True, fit=True)
            kept[key] = built
            graph, found = built
            if graph is not None and graphs is not None:
                graphs[name] = graph
            for diagnostic in found:
                sink.report(diagnostic)
        if builds is not None:
            builds.clear()
            builds.update((k, v) for k, v in kept.items() if k is not None)
        for diagnostic in self._check_constants():
            sink.report(diagnostic)
        check_train_targets(self.root, sink)
        return sink.items

    def _check_constants(self) -> list[Diagnostic]:
        """Library files may have no models: at least their constants must evaluate."""
        sink = DiagnosticSink()
        elaborator = Elaborator(self.root, sink)
        for item in self.root.module.items:
            if isinstance(item, ast.ConstDef):
                try:
                    elaborator.constant(self.root, item)
                except Failed as failed:
                    sink.report(failed.diagnostic)
        return sink.items


def _no_model(unit: Unit) -> Diagnostic:
    from netlang.diagnostics import error

    return error(
        "NL2014",
        "this file defines no model",
        unit.source.span(1, 1, 1, 2),
        hint="a file with only blocks is a library: `import` it from a model file",
    )


def compile_source(
    source: SourceFile, parse: Parse = parse
) -> tuple[Program | None, list[Diagnostic], dict[str, SourceFile]]:
    """Parse and load imports: the program (None on errors), diagnostics, and every file read.
    `parse` may be a cached one (the language server's)."""
    sink = DiagnosticSink()
    loader = Loader(sink, parse)
    unit = loader.load_source(source)
    if unit is None or sink.has_errors:
        return None, sink.items, loader.sources
    program = Program(unit, loader.sources, [d for d in sink.items if d.severity != Severity.ERROR])
    return program, sink.items, loader.sources


def read_source(path: str | Path) -> SourceFile:
    """The file as source text.

    Raises:
        OSError: it cannot be read.
        CompileError: it is not UTF-8 (NL1005, at the first byte that is not).
    """
    path = Path(path)
    raw = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        return SourceFile(str(path), raw.decode("utf-8"))
    except UnicodeDecodeError as bad:
        from netlang.diagnostics import error

        hint = "save it as UTF-8 (netlang sources are UTF-8)"
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            shown = SourceFile(str(path), raw.decode("utf-16", "replace"))
            message = "the file is UTF-16 text (it starts with a UTF-16 byte-order mark)"
            line, column = 1, 1
        else:
            before = raw[: bad.start]
            line = before.count(b"\n") + 1
            column = len(before[before.rfind(b"\n") + 1 :].decode()) + 1  # characters, not bytes
            shown = SourceFile(str(path), raw.decode("utf-8", "replace"))
            message = f"the file is not UTF-8 text: byte 0x{raw[bad.start]:02x} is not a character"
            legacy = raw[bad.start : bad.start + 1].decode("cp1252", "ignore")
            if legacy.isprintable() and legacy:  # what an older Windows editor meant by it
                hint += f"; in Windows-1252 (Latin-1) that byte is `{legacy}`"
        raise CompileError(
            [error("NL1005", message, shown.span(line, column, line, column + 1), hint=hint)],
            {shown.name: shown},
        ) from None


def load(path_or_source: str | Path, *, name: str | None = None) -> Program:
    """Load a `.net` file (a path) or source text (anything with a newline or a `{`)."""
    text = str(path_or_source)
    if isinstance(path_or_source, Path) or ("\n" not in text and "{" not in text):
        source = read_source(path_or_source)
    else:
        source = SourceFile(name or "<string>", text)
    program, diagnostics, sources = compile_source(source)
    if program is None:
        raise CompileError(diagnostics, sources)
    return program
