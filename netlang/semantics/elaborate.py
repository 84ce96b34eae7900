"""Elaboration: a model definition + arguments -> a typed ir.Graph, reporting diagnostics.

Runs the model body as a compile-time program: constants are computed, `if`/`for` unfold,
blocks are instantiated in scopes of their own, and every layer application adds one
shape-inferred node through the GraphBuilder. Errors are reported and the failed value
becomes POISON, so independent errors later in the file are still found.

The rules are split by what they elaborate: statements.py, evaluation.py (expressions),
calls.py (layers, stages, block instances) and binding.py (arguments); this module holds the
entry points and the state they share.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from netlang.diagnostics import Diagnostic, DiagnosticSink, did_you_mean, error
from netlang.diagnostics.source import Span
from netlang.ir import Graph
from netlang.semantics.binding import Binding
from netlang.semantics.builder import GraphBuilder
from netlang.semantics.calls import Calls
from netlang.semantics.evaluation import Expressions
from netlang.semantics.frames import Failed, Frame, Scope, fail
from netlang.semantics.instances import Instance
from netlang.semantics.loader import Unit, ambiguity, header_span
from netlang.semantics.statements import Statements
from netlang.semantics.values import POISON
from netlang.syntax import ast


class Elaborator(Statements, Expressions, Calls, Binding):
    """Elaborates models of one loaded program; one instance per graph."""

    def __init__(
        self,
        root: Unit,
        sink: DiagnosticSink,
        instances: dict[Hashable, Instance] | None = None,
    ) -> None:
        """`instances` are block instances kept by earlier elaborations of models of `root`."""
        self.root = root
        self.sink = sink
        self.builder: GraphBuilder | None = None
        self.instantiations: list[tuple[str, str]] = []  # block name, call site
        self.constants: list[ast.ConstDef] = []  # being evaluated: catches self-reference
        self.input_shapes: dict[str, tuple[int, ...]] = {}
        self.tests: list[ast.TestBlock] = []  # the last model's `test` blocks
        self.aliases: list[str] = []  # model aliases being expanded: catches cycles
        self.alias_sites: list[str] = []  # their `= Base(...)` calls, for the notes of errors
        # the last model's bases when it is an alias, nearest first, with their arguments
        self.bases: list[tuple[str, dict[str, Any]]] = []
        self.iterations = 0  # `for` bodies run so far, bounded by statements.MAX_ITERATIONS
        self.instances = {} if instances is None else instances  # see instances.py
        self.entered: list[str] = []
        self.deepest = 0
        self.reports = 0  # diagnostics reported so far, kept or not (report drops repeats)

    def model(
        self,
        name: str,
        arguments: dict[str, Any],
        input_shapes: dict[str, tuple[int, ...]] | None = None,
        argument_spans: Mapping[str, Span] | None = None,
    ) -> Graph | None:
        """`argument_spans`: where arguments were written (a `--set` value), where their
        mistakes are shown; else at the parameter."""
        entry = self._model_def(self.root, name, self._file_span())
        if entry is None:
            return None
        self.input_shapes = input_shapes or {}
        self.bases = []
        return self._model(*entry, arguments, argument_spans or {})

    def _model(
        self,
        unit: Unit,
        definition: ast.ModelDef,
        arguments: dict[str, Any],
        spans: Mapping[str, Span] | None = None,
    ) -> Graph | None:
        frame = Frame(unit, Scope(()), "model")
        errors_before = len(self.sink.items)
        self._bind_model_arguments(definition, arguments, frame, spans or {})
        if definition.base is not None:
            return self._alias(unit, definition, frame, errors_before)
        self.builder = GraphBuilder(definition.name)
        self.run(definition.body, frame)
        if not frame.outputs and not self._errors_since(errors_before):
            self.sink.report(
                error(
                    "NL2019",
                    f"model `{definition.name}` has no output",
                    header_span(unit.source, definition),
                    hint="add `output NAME` for the tensor it returns",
                )
            )
        self._warn_unused(frame)
        if self._errors_since(errors_before):
            return None
        arguments_used = {p.name: frame.variables[p.name] for p in definition.params}
        graph = self.builder.finish(
            frame.outputs,
            arguments=arguments_used,
            doc=frame.doc,
            origin=header_span(unit.source, definition),
        )
        self.tests = frame.tests
        return graph

    def _alias(
        self, unit: Unit, definition: ast.ModelDef, frame: Frame, errors_before: int
    ) -> Graph | None:
        """`model ResNet50(classes: int = 1000) = ResNet("bottleneck", [3, 4, 6, 3])`: the base
        model with these arguments, under the alias's name and parameters; an alias parameter
        that the base also has is passed on unless the call sets it."""
        base = definition.base
        assert base is not None and isinstance(base.func, ast.Name)
        try:
            for stmt in definition.body:
                if not isinstance(stmt, (ast.Doc, ast.TestBlock)):
                    raise fail(
                        "NL2021", "a model alias may only have a doc string and tests", stmt.span
                    )
            if definition.name in self.aliases:
                chain = " -> ".join(
                    [*self.aliases[self.aliases.index(definition.name) :], definition.name]
                )
                raise fail(
                    "NL2010",
                    f"model alias `{definition.name}` refers back to itself ({chain})",
                    base.span,
                )
            entry = self._model_def(unit, base.func.id, base.func.span)
            if entry is None:
                return None
            args, kwargs = self._arguments(base, frame)
            params = [p.name for p in entry[1].params]
            if len(args) > len(params):
                raise fail(
                    "NL2017",
                    f"model `{base.func.id}` takes {len(params)} arguments, got {len(args)}",
                    base.span,
                )
            kwargs.update(zip(params, args))
            for param in definition.params:  # the alias's own parameters pass through by name
                if param.name in params:
                    kwargs.setdefault(param.name, frame.variables[param.name])
        except Failed as failed:  # located at this alias's own line: no notes of the chain
            sites, self.alias_sites = self.alias_sites, []
            self.report(failed.diagnostic)
            self.alias_sites = sites
            return None
        if self._errors_since(errors_before):
            return None
        self.aliases.append(definition.name)
        self.alias_sites.append(
            f"in model `{base.func.id}`, the base of `{definition.name}` at {base.func.span}"
        )
        try:
            graph = self._model(*entry, kwargs)
        finally:
            self.aliases.pop()
            self.alias_sites.pop()
        if graph is None:
            return None
        self.bases.insert(0, (graph.name, dict(graph.arguments)))
        graph.name = definition.name
        graph.arguments = {p.name: frame.variables[p.name] for p in definition.params}
        graph.doc = next((s.text for s in definition.body if isinstance(s, ast.Doc)), graph.doc)
        graph.origin = header_span(unit.source, definition)
        self.tests = [s for s in definition.body if isinstance(s, ast.TestBlock)]
        return graph

    def _errors_since(self, count: int) -> bool:
        return any(d.severity.value == "error" for d in self.sink.items[count:])

    def _model_def(self, unit: Unit, name: str, span: Span) -> tuple[Unit, ast.ModelDef] | None:
        entry = unit.namespace.get(name)
        models = [k for k, (_, d) in unit.namespace.items() if isinstance(d, ast.ModelDef)]
        if entry is None and name in unit.ambiguous:
            self.sink.report(ambiguity(unit, name, span))
            return None
        if entry is None or not isinstance(entry[1], ast.ModelDef):
            what = "a block" if entry and isinstance(entry[1], ast.BlockDef) else None
            message = f"`{name}` is {what}, not a model" if what else f"no model named `{name}`"
            hint = did_you_mean(name, models) or (
                "models here: " + ", ".join(models) if models else "this file defines no model"
            )
            self.sink.report(error("NL2014", message, span, hint=hint))
            return None
        return entry[0], entry[1]

    def _file_span(self) -> Span:
        return self.root.source.span(1, 1, 1, 2)

    def run(self, body: tuple[ast.Stmt, ...], frame: Frame) -> None:
        for stmt in body:
            if frame.returned is not None:
                break
            try:
                self.statement(stmt, frame)
            except Failed as failed:
                self.report(failed.diagnostic)
                self._poison(stmt, frame)

    @staticmethod
    def _poison(stmt: ast.Stmt, frame: Frame) -> None:
        """After a failed statement, what it defines exists as POISON: no follow-on errors."""
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                frame.variables[target.id] = POISON
        elif isinstance(stmt, ast.InputDecl):
            frame.variables[stmt.name] = POISON
        elif isinstance(stmt, ast.Return) and frame.kind == "block":
            frame.returned = (POISON,)

    def report(self, diagnostic: Diagnostic) -> None:
        self.reports += 1
        notes = (
            *(
                f"in block `{name}`, instantiated at {site}"
                for name, site in reversed(self.instantiations)
            ),
            *reversed(self.alias_sites),
        )
        if notes and not diagnostic.notes:
            diagnostic = Diagnostic(
                diagnostic.code,
                diagnostic.severity,
                diagnostic.message,
                diagnostic.labels,
                notes,
                diagnostic.hint,
            )
        if not any(
            d.labels == diagnostic.labels and d.message == diagnostic.message
            for d in self.sink.items
        ):
            self.sink.report(diagnostic)
