"""Elaboration of statements: assignments, inputs, outputs, `if`, `for`, `assert`, tests.

A part of `Elaborator` (see elaborate.py); each statement either changes the frame or raises
`Failed` with its diagnostic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netlang.diagnostics import did_you_mean, error
from netlang.diagnostics.source import Span
from netlang.ir import DTYPES, TensorType, format_shape
from netlang.ops.registry import describe
from netlang.semantics.frames import Failed, Frame, bounded, fail
from netlang.semantics.values import POISON, Poison, Tensor
from netlang.syntax import ast

if TYPE_CHECKING:
    from netlang.semantics.builder import GraphBuilder

# How many times all `for` bodies of one elaboration may run together: loops that build no layer
# (nested ranges of constants) would otherwise run unbounded; about 12 times the layer limit.
MAX_ITERATIONS = 250_000


class Statements:
    """Statement rules of the elaborator."""

    builder: GraphBuilder | None
    input_shapes: dict[str, tuple[int, ...]]
    iterations: int

    def statement(self, stmt: ast.Stmt, frame: Frame) -> None:
        match stmt:
            case ast.Assign():
                self._assign(stmt, frame)
            case ast.InputDecl():
                self._input(stmt, frame)
            case ast.OutputDecl():
                self._output(stmt, frame)
            case ast.Return():
                if frame.kind != "block":
                    raise fail(
                        "NL2021", "`return` belongs in a block; a model uses `output`", stmt.span
                    )
                frame.returned = tuple(self.eval(v, frame) for v in stmt.values)
            case ast.If():
                branch = stmt.body if self._condition(stmt.condition, frame) else stmt.orelse
                self.run(branch, frame)
            case ast.For():
                items = self.eval(stmt.iterable, frame)
                if isinstance(items, Poison):
                    return
                if not isinstance(items, list):
                    raise self._constant_required(items, stmt.iterable.span, "a list to loop over")
                for item in items:
                    if not self._iterate(stmt.span):
                        return
                    frame.variables[stmt.var.id] = item
                    self.run(stmt.body, frame)
            case ast.Assert():
                self._assert(stmt, frame)
            case ast.TestBlock():
                if frame.kind != "model":
                    raise fail("NL2021", "`test` belongs in a model", stmt.span)
                frame.tests.append(stmt)
            case ast.Doc():
                frame.doc = frame.doc or stmt.text

    def _iterate(self, span: Span) -> bool:
        """Count one run of a `for` body; past the limit the innermost loop fails once and
        every loop after it stops quietly (one diagnostic, not one per enclosing loop)."""
        self.iterations += 1
        if self.iterations <= MAX_ITERATIONS:
            return True
        if self.iterations == MAX_ITERATIONS + 1:
            message = f"the `for` loops run more than {MAX_ITERATIONS:,} times"
            raise fail("NL2023", message, span, "a loop bound is probably wrong")
        return False

    def _assign(self, stmt: ast.Assign, frame: Frame) -> None:
        value = self.eval(stmt.value, frame)
        if len(stmt.targets) > 1:
            parts = value if isinstance(value, (tuple, list)) else None
            if isinstance(value, Poison):
                parts = (POISON,) * len(stmt.targets)
            if parts is None or len(parts) != len(stmt.targets):
                got = len(parts) if parts is not None else 1
                raise fail(
                    "NL2011",
                    f"{len(stmt.targets)} names on the left, but the value has "
                    f"{got} part{'s' if got != 1 else ''}",
                    stmt.span,
                )
            for target, part in zip(stmt.targets, parts):
                frame.assign(target.id, part, target.span)
            return
        target = stmt.targets[0]
        if stmt.annotation is not None and not isinstance(value, Poison):
            self._check_annotation(stmt.annotation, value, frame, stmt.value.span)
        frame.assign(target.id, value, target.span)

    def _check_annotation(
        self, annotation: ast.ShapeAnnotation, value: Any, frame: Frame, span: Span
    ) -> None:
        if not isinstance(value, Tensor):
            raise fail("NL3006", f"a shape annotation needs a tensor, got {describe(value)}", span)
        want = self._dims(annotation.dims, frame)
        got = value.type.shape
        dims_ok = len(want) == len(got) and all(
            isinstance(w, str) or w == g for w, g in zip(want, got)
        )
        if not dims_ok or (annotation.dtype and annotation.dtype != value.type.dtype):
            raise fail(
                "NL3006",
                f"shape annotation says {format_shape(want)}, but the value "
                f"has shape {format_shape(got)}",
                annotation.span,
            )

    def _input(self, stmt: ast.InputDecl, frame: Frame) -> None:
        if frame.kind != "model":
            raise fail(
                "NL2021",
                "`input` belongs in a model; a block takes its inputs in its header",
                stmt.span,
            )
        if stmt.dtype not in DTYPES:
            raise fail(
                "NL2005",
                f"unknown element type `{stmt.dtype}`",
                stmt.span,
                _dtype_hint(stmt.dtype),
            )
        if stmt.name in frame.variables:
            raise fail("NL2006", f"`{stmt.name}` is already defined", stmt.span)
        shape = self._dims(stmt.dims, frame)
        override = self.input_shapes.get(stmt.name)
        if override is not None:
            if len(override) != len(shape) or any(
                isinstance(d, int) and d != o for d, o in zip(shape, override)
            ):
                raise fail(
                    "NL3008",
                    f"test input {format_shape(override)} does not fit "
                    f"`{stmt.name}`: {format_shape(shape)}",
                    stmt.span,
                )
            shape = tuple(override)
        assert self.builder is not None
        bounded(TensorType(stmt.dtype, shape), f"input `{stmt.name}`", stmt.span)
        self.builder.input(stmt.name, TensorType(stmt.dtype, shape))
        frame.assign(stmt.name, Tensor(stmt.name, TensorType(stmt.dtype, shape)), stmt.span)

    def _dims(self, dims: tuple[ast.Expr, ...], frame: Frame) -> tuple[int | str, ...]:
        """Evaluate shape dims; a free name such as `N` or `T` is a symbolic dim."""
        result: list[int | str] = []
        for dim in dims:
            if isinstance(dim, ast.Name) and self._lookup(dim.id, frame, dim.span) is None:
                result.append(dim.id)
                continue
            value = self.eval(dim, frame)
            if isinstance(value, Poison):
                raise Failed(error("NL2012", "invalid dim", dim.span))
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, str))
                or (isinstance(value, int) and value < 1)
            ):
                raise fail(
                    "NL2005",
                    f"a dim must be a positive integer or a symbolic name, got {describe(value)}",
                    dim.span,
                )
            result.append(value)
        return tuple(result)

    def _output(self, stmt: ast.OutputDecl, frame: Frame) -> None:
        if frame.kind != "model":
            raise fail("NL2021", "`output` belongs in a model; a block uses `return`", stmt.span)
        for name in stmt.names:
            value = self.eval(name, frame)
            if isinstance(value, Poison):
                continue
            if not isinstance(value, Tensor):
                raise fail(
                    "NL2018",
                    f"output `{name.id}` must be a tensor, got {describe(value)}",
                    name.span,
                )
            if name.id in frame.outputs:
                raise fail("NL2006", f"`{name.id}` is output twice", name.span)
            frame.outputs[name.id] = value.value

    def _condition(self, expr: ast.Expr, frame: Frame) -> bool:
        value = self.eval(expr, frame)
        if isinstance(value, Poison):
            return False
        if not isinstance(value, bool):
            raise self._constant_required(value, expr.span, "`true` or `false`")
        return value

    def _assert(self, stmt: ast.Assert, frame: Frame) -> None:
        if not self._condition(stmt.condition, frame) and not isinstance(
            self.eval(stmt.condition, frame), Poison
        ):
            detail = self._explain(stmt.condition, frame)
            message = stmt.message or "assertion failed"
            raise fail("NL3007", f"{message}{detail}", stmt.condition.span)

    def _explain(self, condition: ast.Expr, frame: Frame) -> str:
        """`: 256 != 512` for a failed comparison, so the message has both sides."""
        if isinstance(condition, ast.Binary) and condition.op in {"==", "!=", "<", "<=", ">", ">="}:
            left, right = self.eval(condition.left, frame), self.eval(condition.right, frame)
            return f" ({_show(left)} {condition.op} {_show(right)} is false)"
        return ""

    def _constant_required(self, value: Any, span: Span, wanted: str) -> Failed:
        if isinstance(value, Tensor):
            return fail(
                "NL2012",
                f"expected a compile-time value ({wanted}), got a tensor "
                f"{format_shape(value.type.shape)}",
                span,
                "tensors are only known when the model runs; use shape(x) or "
                "channels(x) for what is known now",
            )
        return fail("NL2005", f"expected {wanted}, got {describe(value)}", span)


def _show(value: Any) -> str:
    if isinstance(value, list):
        return format_shape(tuple(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


# element types as C, PyTorch and NumPy name them, for the hint
DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int64"}


def _dtype_hint(written: str) -> str:
    alias = DTYPE_ALIASES.get(written.lower())
    if alias is not None:
        return f"did you mean `{alias}`?"
    return did_you_mean(written, DTYPES) or f"use one of {', '.join(DTYPES)}"
