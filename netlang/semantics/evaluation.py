"""Elaboration of expressions: constants, names, operators and indexing at compile time.

A part of `Elaborator` (see elaborate.py). Pure value semantics live in expressions.py; this
adds names, scopes and diagnostics. `tensor + tensor` and `tensor * tensor` become layers, and so
does arithmetic of a tensor with a number (`x * 0.5`: the `scalar` op).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netlang.diagnostics import NameHints
from netlang.diagnostics.source import Span
from netlang.ir import DTYPES
from netlang.ops import REGISTRY
from netlang.ops.merge import SCALAR_OPS
from netlang.ops.registry import describe
from netlang.semantics.builtins import BUILTINS
from netlang.semantics.expressions import EvalError, binary, unary
from netlang.semantics.frames import Failed, Frame, Scope, fail
from netlang.semantics.loader import Unit, ambiguity
from netlang.semantics.values import POISON, BlockRef, Builtin, Layer, Poison, Tensor
from netlang.syntax import ast


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model named in an expression: it can be called only as a whole, never as a layer."""

    name: str
    description = "a model"


def _tensor_and_number(left: Any, right: Any) -> bool:
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    return (isinstance(left, Tensor) and number(right)) or (
        number(left) and isinstance(right, Tensor)
    )


class Expressions:
    """Expression rules of the elaborator."""

    constants: list[ast.ConstDef]

    def eval(self, expr: ast.Expr, frame: Frame) -> Any:
        match expr:
            case ast.Constant(value=value):
                return value
            case ast.Name(id=name):
                return self._name(name, expr.span, frame)
            case ast.ListExpr(items=items):
                return [self.eval(i, frame) for i in items]
            case ast.TupleExpr(items=items):
                return tuple(self.eval(i, frame) for i in items)
            case ast.Unary(op=op, operand=operand):
                return self._unary(op, self.eval(operand, frame), expr.span)
            case ast.Binary():
                return self._binary(expr, frame)
            case ast.Index(value=value, index=index):
                return self._index(self.eval(value, frame), self.eval(index, frame), expr)
            case ast.Call():
                return self._call(expr, frame)
            case ast.Stage():
                return self._labelled_call(expr, frame)
            case ast.Flow(source=source, stages=stages):
                return self._stages(stages, self._or_poison(self.eval, source, frame), frame)
        raise AssertionError(f"unhandled expression {expr!r}")

    def _name(self, name: str, span: Span, frame: Frame) -> Any:
        value = self._lookup(name, frame, span)
        if value is not None and not (frame.symbols and isinstance(value, Builtin)):
            return value
        if frame.symbols:  # `mode=min` in a train section is the symbol, not the function
            from netlang.semantics.train_spec import Call

            return Call(name, span=span)
        if frame.kind == "model" and not any(
            isinstance(v, Tensor) for v in frame.variables.values()
        ):
            raise fail(
                "NL2001",
                f"`{name}` is not defined: the model has no `input`",
                span,
                f"declare the model's input first, e.g. `input {name}: float32[N, 784]`",
            )
        if name in frame.unit.ambiguous:
            raise Failed(ambiguity(frame.unit, name, span))
        if name in DTYPES:  # `cast(float16)`: an element type is named by a string
            hint = f'write the element type as a string: "{name}"'
        else:
            unit = frame.unit
            if unit.name_hints is None:
                unit.name_hints = NameHints([*unit.namespace, *REGISTRY, *BUILTINS])
            hint = unit.name_hints.hint(name, frame.variables)
        raise fail("NL2001", f"`{name}` is not defined", span, hint)

    def _lookup(self, name: str, frame: Frame, span: Span) -> Any:
        """A name's value: variable, then definition in this file's namespace, op, builtin."""
        if name in frame.variables:
            frame.read.add(name)
            return frame.variables[name]
        if name in frame.unit.namespace:
            unit, definition = frame.unit.namespace[name]
            if isinstance(definition, ast.BlockDef):
                return BlockRef(definition, unit)
            if isinstance(definition, ast.ConstDef):
                return self.constant(unit, definition)
            return ModelRef(name)
        if name in REGISTRY:
            return Layer(name, span)
        return BUILTINS.get(name)

    def constant(self, unit: Unit, definition: ast.ConstDef) -> Any:
        if definition in self.constants:
            raise fail(
                "NL2010",
                f"constant `{definition.name}` is defined in terms of itself",
                definition.span,
            )
        self.constants.append(definition)
        try:
            return self.eval(definition.value, Frame(unit, Scope(()), "const"))
        finally:
            self.constants.pop()

    def _unary(self, op: str, value: Any, span: Span) -> Any:
        if isinstance(value, Poison):
            return value
        if isinstance(value, Tensor):
            raise self._constant_required(value, span, f"a value for `{op}`")
        try:
            return unary(op, value)
        except EvalError as exc:
            raise fail("NL2005", str(exc), span) from None

    def _binary(self, expr: ast.Binary, frame: Frame) -> Any:
        left = self.eval(expr.left, frame)
        if expr.op in {"and", "or"}:
            if not isinstance(left, Poison) and not isinstance(left, bool):
                raise self._constant_required(left, expr.left.span, "`true` or `false`")
            if left is (expr.op == "or"):
                return left  # short-circuit, as in Python
            right = self.eval(expr.right, frame)
            if not isinstance(right, (bool, Poison)):
                raise self._constant_required(right, expr.right.span, "`true` or `false`")
            return right
        right = self.eval(expr.right, frame)
        if isinstance(left, Poison) or isinstance(right, Poison):
            return POISON
        if expr.op in SCALAR_OPS and (isinstance(left, Tensor) or isinstance(right, Tensor)):
            return self._tensor_arithmetic(expr, left, right, frame)
        for side, value in ((expr.left, left), (expr.right, right)):
            if isinstance(value, Tensor):
                raise self._constant_required(value, side.span, f"a value for `{expr.op}`")
        try:
            return binary(expr.op, left, right)
        except EvalError as exc:
            raise fail(
                "NL2022" if "division" in str(exc) or "range" in str(exc) else "NL2005",
                str(exc),
                expr.span,
            ) from None

    def _tensor_arithmetic(self, expr: ast.Binary, left: Any, right: Any, frame: Frame) -> Any:
        """`a + b`, `a * b` of two tensors (add, mul); `x * 0.5`, `x + 3`, `x / 6`, `1 - x` of a
        tensor and a number: one `scalar` layer, the number first only where order matters."""
        op = SCALAR_OPS[expr.op]
        if isinstance(left, Tensor) and isinstance(right, Tensor):
            if op not in {"add", "mul"}:
                raise fail(
                    "NL2012",
                    f"`{expr.op}` of two tensors is not defined",
                    expr.span,
                    "two tensors combine with `+` and `*` (write a + b * -1 for a - b)",
                )
            return self._apply_op(
                Layer(op, expr.span),
                [left, right],
                None,
                None,
                expr.span,
                frame,
                [expr.left.span, expr.right.span],
            )
        reverse = isinstance(right, Tensor)
        tensor, number = (right, left) if reverse else (left, right)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise fail(
                "NL2005",
                f"`{expr.op}` of a tensor takes a number or a tensor, got {describe(number)}",
                (expr.left if reverse else expr.right).span,
            )
        layer = Layer(
            "scalar",
            expr.span,
            kwargs={"op": op, "value": number, "reverse": reverse and op in {"sub", "div"}},
        )
        return self._apply_op(layer, [tensor], None, None, expr.span, frame)

    def _index(self, value: Any, index: Any, expr: ast.Index) -> Any:
        if isinstance(value, Poison) or isinstance(index, Poison):
            return POISON
        if isinstance(value, Tensor):
            raise fail(
                "NL2012",
                "a tensor cannot be indexed at compile time",
                expr.span,
                "use select(axis, index) or split(...) to take part of a tensor",
            )
        if (
            not isinstance(value, (list, tuple, str))
            or isinstance(index, bool)
            or not isinstance(index, int)
        ):
            raise fail(
                "NL2005", f"cannot index {describe(value)} with {describe(index)}", expr.span
            )
        if not -len(value) <= index < len(value):
            raise fail(
                "NL2022", f"index {index} is out of range for length {len(value)}", expr.index.span
            )
        return value[index]

    def _arguments(self, call: ast.Call, frame: Frame) -> tuple[list[Any], dict[str, Any]]:
        args = [self.eval(a, frame) for a in call.args]
        kwargs: dict[str, Any] = {}
        for keyword in call.keywords:
            if keyword.name in kwargs:
                raise fail("NL2003", f"argument `{keyword.name}` is given twice", keyword.span)
            kwargs[keyword.name] = self.eval(keyword.value, frame)
        return args, kwargs
