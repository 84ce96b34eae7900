"""`test { ... }` blocks inside a model: shape and cost expectations checked at compile time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netlang.diagnostics import DiagnosticSink, error
from netlang.ir import Graph, format_shape
from netlang.semantics.elaborate import Elaborator
from netlang.semantics.frames import Failed, Frame, Scope
from netlang.semantics.loader import Unit
from netlang.syntax import ast
from netlang.ir.summary import totals

# Rebuilds the model for given input shapes (or reports why it cannot) — see program.Program.
Rebuild = Callable[[dict[str, tuple[int, ...]]], Graph | None]


def run_tests(
    graph: Graph, tests: list[ast.TestBlock], unit: Unit, sink: DiagnosticSink, rebuild: Rebuild
) -> None:
    facts = {**totals(graph), "layers": len(graph.nodes)}
    frame = Frame(unit, Scope(()), "test", variables={**graph.arguments, **facts})
    elaborator = Elaborator(unit, sink)
    for block in tests:
        for item in block.items:
            try:
                if isinstance(item, ast.TestShapes):
                    _shapes(item, graph, elaborator, frame, sink, rebuild)
                else:
                    _check(item, elaborator, frame, sink)
            except Failed as failed:
                sink.report(failed.diagnostic)


def _check(item: ast.TestCheck, elaborator: Elaborator, frame: Frame, sink: DiagnosticSink) -> None:
    value = elaborator.eval(item.condition, frame)
    if value is True:
        return
    if value is not False:
        sink.report(error("NL3008", "a test check must be true or false", item.span))
        return
    condition, detail = item.condition, ""
    if isinstance(condition, ast.Binary) and isinstance(condition.left, ast.Name):
        detail = f" (`{condition.left.id}` is {elaborator.eval(condition.left, frame)})"
    sink.report(error("NL3008", "test failed" + detail, item.span))


def _shapes(
    item: ast.TestShapes,
    graph: Graph,
    elaborator: Elaborator,
    frame: Frame,
    sink: DiagnosticSink,
    rebuild: Rebuild,
) -> None:
    given = [_shape(elaborator.eval(e, frame)) for e in item.inputs]
    wanted = [_shape(elaborator.eval(e, frame)) for e in item.outputs]
    if (
        None in given
        or None in wanted
        or len(given) != len(graph.inputs)
        or len(wanted) != len(graph.outputs)
    ):
        sink.report(
            error(
                "NL3008",
                f"a shape test needs {len(graph.inputs)} input and "
                f"{len(graph.outputs)} output shapes, as lists of integers",
                item.span,
            )
        )
        return
    shapes = {v.name: s for v, s in zip(graph.inputs, given) if s is not None}
    built = rebuild(shapes)
    if built is None:
        return
    for value, want in zip(built.outputs, wanted):
        if value.type.shape != want:
            sink.report(
                error(
                    "NL3008",
                    f"test failed: output `{value.name}` has shape "
                    f"{format_shape(value.type.shape)}, expected "
                    f"{format_shape(tuple(want or ()))}",
                    item.span,
                )
            )


def _shape(value: Any) -> tuple[int, ...] | None:
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        return tuple(value)
    return None
