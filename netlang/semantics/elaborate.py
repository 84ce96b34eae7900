"""Elaboration: a model definition + arguments -> a typed ir.Graph, reporting diagnostics.

Runs the model body as a compile-time program: constants are computed, `if`/`for` unfold,
blocks are instantiated in scopes of their own, and every layer application adds one
shape-inferred node through the GraphBuilder. Errors are reported and the failed value
becomes POISON, so independent errors later in the file are still found.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from netlang.diagnostics import Diagnostic, DiagnosticSink, did_you_mean, error, warning
from netlang.semantics.builder import GraphBuilder
from netlang.ir import Graph, TensorType, format_shape
from netlang.ops import REGISTRY
from netlang.ops.registry import AttrError, ShapeError, bind, describe
from netlang.semantics.builtins import BUILTINS, SHAPE_BUILTINS, BuiltinError
from netlang.semantics.expressions import EvalError, binary, unary
from netlang.semantics.frames import Failed, Frame, Scope, fail
from netlang.semantics.loader import Unit, header_span
from netlang.semantics.values import POISON, BlockRef, Builtin, Layer, Poison, Tensor
from netlang.diagnostics.source import Span
from netlang.syntax import ast

DTYPES = ("float32", "float16", "float64", "int64", "int32", "bool")
PARAM_TYPES = {"int": int, "float": (int, float), "bool": bool, "str": str, "list": list}
MAX_NODES = 200_000
MAX_DEPTH = 64


class Elaborator:
    """Elaborates models of one loaded program; one instance per graph."""

    def __init__(self, root: Unit, sink: DiagnosticSink) -> None:
        self.root = root
        self.sink = sink
        self.builder: GraphBuilder | None = None
        self.instantiations: list[tuple[str, str]] = []  # block name, call site
        self.constants: list[ast.ConstDef] = []  # being evaluated: catches self-reference
        self.input_shapes: dict[str, tuple[int, ...]] = {}
        self.tests: list[ast.TestBlock] = []  # the last model's `test` blocks
        self.aliases: list[str] = []  # model aliases being expanded: catches cycles

    # ---- entry points -----------------------------------------------------------------
    def model(
        self,
        name: str,
        arguments: dict[str, Any],
        input_shapes: dict[str, tuple[int, ...]] | None = None,
    ) -> Graph | None:
        entry = self._model_def(self.root, name, self._file_span())
        if entry is None:
            return None
        self.input_shapes = input_shapes or {}
        return self._model(*entry, arguments)

    def _model(
        self, unit: Unit, definition: ast.ModelDef, arguments: dict[str, Any]
    ) -> Graph | None:
        frame = Frame(unit, Scope(()), "model")
        errors_before = len(self.sink.items)
        self._bind_model_arguments(definition, arguments, frame)
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
        except Failed as failed:
            self.report(failed.diagnostic)
            return None
        if self._errors_since(errors_before):
            return None
        self.aliases.append(definition.name)
        try:
            graph = self._model(*entry, kwargs)
        finally:
            self.aliases.pop()
        if graph is None:
            return None
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

    def _bind_model_arguments(
        self, definition: ast.ModelDef, arguments: dict[str, Any], frame: Frame
    ) -> None:
        names = [p.name for p in definition.params]
        for key in arguments:
            if key not in names:
                self.sink.report(
                    error(
                        "NL2003",
                        f"model `{definition.name}` has no parameter `{key}`",
                        header_span(frame.unit.source, definition),
                        hint=did_you_mean(key, names)
                        or f"parameters: {', '.join(names) or 'none'}",
                    )
                )
        for param in definition.params:
            try:
                if param.name in arguments:
                    value = arguments[param.name]
                    self._check_param_type(param, value, param.span)
                else:
                    value = self._param_default(param, frame)
            except Failed as failed:
                self.sink.report(failed.diagnostic)
                value = POISON
            frame.variables[param.name] = value

    # ---- statements -------------------------------------------------------------------
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
        notes = tuple(
            f"in block `{name}`, instantiated at {site}"
            for name, site in reversed(self.instantiations)
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
                did_you_mean(stmt.dtype, DTYPES) or f"use one of {', '.join(DTYPES)}",
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

    # ---- expressions ------------------------------------------------------------------
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
            case ast.Flow(source=source, stages=stages):
                value = self.eval(source, frame)
                for stage in stages:
                    value = self._stage(stage, value, frame)
                return value
        raise AssertionError(f"unhandled expression {expr!r}")

    def _name(self, name: str, span: Span, frame: Frame) -> Any:
        value = self._lookup(name, frame, span)
        if value is not None:
            return value
        if frame.symbols:
            from netlang.semantics.train_spec import Call

            return Call(name, span=span)
        candidates = [*frame.variables, *frame.unit.namespace, *REGISTRY, *BUILTINS]
        raise fail("NL2001", f"`{name}` is not defined", span, did_you_mean(name, candidates))

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
            return _ModelRef(name)
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
        if isinstance(left, Tensor) and isinstance(right, Tensor) and expr.op in {"+", "*"}:
            op = "add" if expr.op == "+" else "mul"
            return self._apply_op(Layer(op, expr.span), [left, right], None, None, expr.span, frame)
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

    # ---- calls, stages and layer application -------------------------------------------
    def _arguments(self, call: ast.Call, frame: Frame) -> tuple[list[Any], dict[str, Any]]:
        args = [self.eval(a, frame) for a in call.args]
        kwargs: dict[str, Any] = {}
        for keyword in call.keywords:
            if keyword.name in kwargs:
                raise fail("NL2003", f"argument `{keyword.name}` is given twice", keyword.span)
            kwargs[keyword.name] = self.eval(keyword.value, frame)
        return args, kwargs

    def _call(self, call: ast.Call, frame: Frame) -> Any:
        if (
            frame.symbols
            and isinstance(call.func, ast.Name)
            and self._lookup(call.func.id, frame, call.func.span) is None
        ):
            from netlang.semantics.train_spec import Call

            args, kwargs = self._arguments(call, frame)
            return Call(call.func.id, tuple(args), kwargs, call.span)
        func = self.eval(call.func, frame)
        args, kwargs = self._arguments(call, frame)
        if any(isinstance(v, Poison) for v in (func, *args, *kwargs.values())):
            return POISON
        if isinstance(func, Builtin):
            if func.name not in SHAPE_BUILTINS:
                for arg, node in zip(args, call.args):
                    if isinstance(arg, Tensor):
                        raise self._constant_required(arg, node.span, f"an argument of {func.name}")
            try:
                return func.function(*args, **kwargs)
            except (BuiltinError, TypeError) as exc:
                raise fail("NL2005", f"{func.name}: {exc}", call.span) from None
        layer = self._layer(
            func, call.func.span, call.func.id if isinstance(call.func, ast.Name) else None
        )
        inputs: list[Tensor] = []
        while args and _tensors(args[0]) is not None:  # leading tensors: apply now
            inputs.extend(_tensors(args.pop(0)) or [])
        layer = self._with_arguments(layer, args, kwargs, call)
        if not inputs:
            return layer
        return self._apply(layer, inputs, None, None, call.span, frame)

    def _layer(self, value: Any, span: Span, name: str | None = None) -> Layer:
        if isinstance(value, Layer):
            return value
        if isinstance(value, BlockRef):
            return Layer(value.definition.name, span, block=value)
        if isinstance(value, _ModelRef):
            raise fail(
                "NL2018",
                f"model `{value.name}` cannot be used as a layer",
                span,
                "define the reusable part as a `block`",
            )
        hint = (
            f"`{name}` is a variable or parameter here, hiding the layer `{name}`; rename it"
            if name in REGISTRY
            else None
        )
        raise fail("NL2018", f"expected a layer or block, got {describe(value)}", span, hint)

    def _with_arguments(
        self, layer: Layer, args: list[Any], kwargs: dict[str, Any], call: ast.Call
    ) -> Layer:
        if layer.args or layer.kwargs:
            if args or kwargs:
                raise fail("NL2017", f"`{layer.name}` already has its arguments", call.span)
            return layer
        spans = tuple(a.span for a in call.args[len(call.args) - len(args) :])
        return Layer(
            layer.name,
            call.span,
            tuple(args),
            spans,
            kwargs,
            {k.name: k.span for k in call.keywords},
            layer.block,
        )

    def _stage(self, stage: ast.Stage, value: Any, frame: Frame) -> Any:
        inputs = _tensors(value)
        if isinstance(value, Poison) or (inputs is not None and not inputs):
            return POISON
        if inputs is None:
            raise fail(
                "NL2018", f"`->` needs a tensor on its left, got {describe(value)}", stage.span
            )
        body = stage.body
        if isinstance(body, ast.Group):
            name = frame.scope.name(stage.label, stage.label_span)
            with self._scope(frame, Scope(tuple(name.split(".")))):
                for inner in body.stages:
                    value = self._stage(inner, value, frame)
            self._record_scope(name, None, stage.span, value)
            return value
        if isinstance(body, ast.Name):
            layer = self._layer(self._name(body.id, body.span, frame), body.span, body.id)
            layer = Layer(
                layer.name,
                body.span,
                layer.args,
                layer.arg_spans,
                layer.kwargs,
                layer.kwarg_spans,
                layer.block,
            )
        else:
            func = self._name(body.func.id, body.func.span, frame)  # type: ignore[union-attr]
            layer = self._layer(func, body.func.span, body.func.id)  # type: ignore[union-attr]
            args, kwargs = self._arguments(body, frame)
            if any(isinstance(v, Poison) for v in (*args, *kwargs.values())):
                return POISON
            if self._takes_more_inputs(layer):
                while args and _tensors(args[0]) is not None:
                    inputs = [*inputs, *(_tensors(args.pop(0)) or [])]
            layer = self._with_arguments(layer, args, kwargs, body)
        return self._apply(layer, inputs, stage.label, stage.label_span, stage.span, frame)

    @staticmethod
    def _takes_more_inputs(layer: Layer) -> bool:
        if layer.block is not None:
            return len(layer.block.definition.inputs) > 1
        high = REGISTRY[layer.name].arity[1]
        return high is None or high > 1

    @contextmanager
    def _scope(self, frame: Frame, scope: Scope) -> Iterator[None]:
        outer, frame.scope = frame.scope, scope
        try:
            yield
        finally:
            frame.scope = outer

    def _apply(
        self,
        layer: Layer,
        inputs: list[Tensor],
        label: str | None,
        label_span: Span | None,
        span: Span,
        frame: Frame,
    ) -> Any:
        if layer.block is not None:
            return self._instantiate(layer, inputs, label, label_span, span, frame)
        return self._apply_op(layer, inputs, label, label_span, span, frame)

    def _apply_op(
        self,
        layer: Layer,
        inputs: list[Tensor],
        label: str | None,
        label_span: Span | None,
        span: Span,
        frame: Frame,
    ) -> Any:
        spec = REGISTRY[layer.name]
        try:
            attrs = bind(spec, list(layer.args), dict(layer.kwargs))
        except AttrError as exc:
            raise fail(
                exc.code, exc.message, self._arg_span(layer, exc.arg, span), exc.hint
            ) from None
        name = frame.scope.name(label, label_span)
        assert self.builder is not None
        if len(self.builder.nodes) >= MAX_NODES:
            raise fail("NL2023", f"the model has more than {MAX_NODES} layers", span)
        try:
            outputs = self.builder.apply(
                layer.name, [t.value for t in inputs], attrs, name, span, bound=True
            )
        except ShapeError as exc:
            raise fail(exc.code, exc.message, span, exc.hint) from None
        types = self.builder.types
        tensors = tuple(Tensor(v, types[v]) for v in outputs)
        return tensors[0] if len(tensors) == 1 else tensors

    @staticmethod
    def _arg_span(layer: Layer, arg: int | str | None, default: Span) -> Span:
        if isinstance(arg, int) and arg < len(layer.arg_spans):
            return layer.arg_spans[arg]
        if isinstance(arg, str) and arg in layer.kwarg_spans:
            return layer.kwarg_spans[arg]
        return default

    def _instantiate(
        self,
        layer: Layer,
        inputs: list[Tensor],
        label: str | None,
        label_span: Span | None,
        span: Span,
        frame: Frame,
    ) -> Any:
        assert layer.block is not None
        definition, unit = layer.block.definition, layer.block.unit
        if any(name == definition.name for name, _ in self.instantiations):
            chain = " -> ".join([*(n for n, _ in self.instantiations), definition.name])
            raise fail(
                "NL2010",
                f"block `{definition.name}` uses itself ({chain})",
                span,
                "blocks cannot be recursive; unroll it with `for`",
            )
        if len(self.instantiations) >= MAX_DEPTH:
            raise fail("NL2010", "blocks are nested too deeply", span)
        if len(inputs) != len(definition.inputs):
            want = len(definition.inputs)
            raise fail(
                "NL2011",
                f"block `{definition.name}` takes {want} input tensor"
                f"{'s' if want != 1 else ''}, got {len(inputs)}",
                span,
            )
        path = frame.scope.name(label, label_span)
        inner = Frame(unit, Scope(tuple(path.split("."))), "block")
        self._bind_block_params(layer, definition, inner)
        for param, tensor in zip(definition.inputs, inputs):
            inner.assign(param.name, tensor, param.span)
        self.instantiations.append((definition.name, str(span)))
        try:
            self.run(definition.body, inner)
        finally:
            self.instantiations.pop()
        self._warn_unused(inner)
        if inner.returned is None:
            raise fail(
                "NL2019",
                f"block `{definition.name}` returns nothing",
                span,
                "end the block with `return NAME`",
            )
        values = inner.returned
        self._record_scope(path, definition.name, span, values)
        return values[0] if len(values) == 1 else values

    def _record_scope(self, name: str, block: str | None, span: Span, value: Any) -> None:
        tensors = _tensors(value) or [
            t for v in (value if isinstance(value, tuple) else ()) for t in _tensors(v) or []
        ]
        assert self.builder is not None
        self.builder.scope(name, block, span, [t.value for t in tensors])

    def _bind_block_params(self, layer: Layer, definition: ast.BlockDef, inner: Frame) -> None:
        params = definition.params
        names = [p.name for p in params]
        if len(layer.args) > len(params):
            raise fail(
                "NL2017",
                f"block `{definition.name}` takes {len(params)} argument"
                f"{'s' if len(params) != 1 else ''}, got {len(layer.args)}",
                layer.span,
            )
        given = dict(zip(names, zip(layer.args, layer.arg_spans or [layer.span] * len(layer.args))))
        for key, value in layer.kwargs.items():
            span = layer.kwarg_spans.get(key, layer.span)
            if key not in names:
                raise fail(
                    "NL2003",
                    f"block `{definition.name}` has no parameter `{key}`",
                    span,
                    did_you_mean(key, names) or f"parameters: {', '.join(names) or 'none'}",
                )
            given[key] = (value, span)
        for param in params:
            if param.name in given:
                value, span = given[param.name]
                self._check_param_type(param, value, span)
            elif param.default is None:
                raise fail(
                    "NL2004",
                    f"block `{definition.name}` is missing its argument `{param.name}`",
                    layer.span,
                )
            else:
                value = self._param_default(param, inner)
            inner.variables[param.name] = value

    def _param_default(self, param: ast.Param, frame: Frame) -> Any:
        if param.default is None:
            raise fail(
                "NL2004", f"parameter `{param.name}` has no default; give it a value", param.span
            )
        value = self.eval(param.default, frame)
        self._check_param_type(param, value, param.default.span)
        return value

    @staticmethod
    def _check_param_type(param: ast.Param, value: Any, span: Span) -> None:
        if param.type is None or isinstance(value, Poison):
            return
        wanted = PARAM_TYPES.get(param.type)
        if wanted is None:
            raise fail(
                "NL2005",
                f"unknown parameter type `{param.type}`",
                param.span,
                did_you_mean(param.type, PARAM_TYPES) or f"types: {', '.join(PARAM_TYPES)}",
            )
        if isinstance(value, bool) and param.type != "bool" or not isinstance(value, wanted):
            raise fail(
                "NL2005",
                f"parameter `{param.name}` is declared `{param.type}`, got {describe(value)}",
                span,
            )

    def _warn_unused(self, frame: Frame) -> None:
        used = frame.read | set(frame.outputs)
        for name, span in frame.tensor_defs.items():
            if name not in used:
                self.report(
                    warning(
                        "NL2013",
                        f"tensor `{name}` is never used",
                        span,
                        hint="remove it, or `output` it",
                    )
                )


@dataclass(frozen=True, slots=True)
class _ModelRef:
    name: str
    description = "a model"


def _tensors(value: Any) -> list[Tensor] | None:
    """The tensors a value stands for (a tensor, or a tuple/list of them), else None."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, Tensor) for v in value):
        return list(value)
    return None


def _show(value: Any) -> str:
    if isinstance(value, list):
        return format_shape(tuple(value))
    return str(value).lower() if isinstance(value, bool) else str(value)
