"""Elaboration of calls and flows: layers with their arguments, `->` stages, block instances.

A part of `Elaborator` (see elaborate.py). An op application adds one shape-inferred node
through the GraphBuilder; a block instance runs the block's body in a scope of its own.
"""

from __future__ import annotations

import dataclasses

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from netlang.diagnostics import Diagnostic
from netlang.diagnostics.source import Span
from netlang.ir import NameScope, Node, TensorType
from netlang.ops import REGISTRY
from netlang.ops.registry import AttrError, ShapeError, bind, describe
from netlang.semantics.builtins import SHAPE_BUILTINS, BuiltinError
from netlang.semantics.evaluation import ModelRef
from netlang.semantics.builder import MAX_PARAMETERS
from netlang.semantics.frames import Failed, Frame, Scope, bounded, fail
from netlang.semantics.instances import Instance, copy, instance_key, record
from netlang.semantics.labels import label_of
from netlang.semantics.statements import MAX_ITERATIONS
from netlang.semantics.values import POISON, BlockRef, Builtin, Layer, Poison, Tensor
from netlang.syntax import ast

if TYPE_CHECKING:
    from netlang.semantics.builder import GraphBuilder

MAX_NODES = 20_000  # 18 times the largest model of the standard library (1,092)
MAX_DEPTH = 64


class Calls:
    """Call, stage and instantiation rules of the elaborator."""

    builder: GraphBuilder | None
    instantiations: list[tuple[str, str]]
    instances: dict[Hashable, Instance]  # kept block instances, by instance_key
    entered: list[str]  # the blocks instantiated so far, in order
    deepest: int  # the most instantiations nested so far, inside the current one
    iterations: int
    reports: int
    report: Callable[[Diagnostic], None]

    def _call(self, call: ast.Call, frame: Frame) -> Any:
        if (
            frame.symbols
            and isinstance(call.func, ast.Name)
            and self._lookup(call.func.id, frame, call.func.span) is None
        ):
            from netlang.semantics.train_spec import Call

            args, kwargs = self._arguments(call, frame)
            arg_spans = tuple(a.span for a in call.args)
            kwarg_spans = {k.name: k.value.span for k in call.keywords}
            return Call(call.func.id, tuple(args), kwargs, call.span, arg_spans, kwarg_spans)
        if frame.symbols and isinstance(call.func, ast.Name):  # `max(...)`: the builtin itself
            func = self._lookup(call.func.id, frame, call.func.span)
        else:
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
        inputs, spans = self._take_inputs(args, call.args)  # leading tensors: apply now
        layer = self._with_arguments(layer, args, kwargs, call)
        if not inputs and not self._takes_no_inputs(layer):
            return layer
        return self._apply(layer, inputs, None, None, call.span, frame, spans)

    def _labelled_call(self, stage: ast.Stage, frame: Frame) -> Any:
        """`class_token: param([1, 1, 768])`, `fc: linear(x, 10)`: the call applied at once,
        its node (or block scope) named by the label; leading tensor arguments are its inputs."""
        call = stage.body
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
        label = label_of(stage, lambda expr: self.eval(expr, frame))
        func = self._name(call.func.id, call.func.span, frame)
        args, kwargs = self._arguments(call, frame)
        if any(isinstance(v, Poison) for v in (label, func, *args, *kwargs.values())):
            return POISON
        if isinstance(func, Builtin):
            raise fail(
                "NL2018",
                f"a label names a layer or block, and `{func.name}` is a function",
                stage.label_span or stage.span,
                "drop the label",
            )
        layer = self._layer(func, call.func.span, call.func.id)
        inputs, spans = self._take_inputs(args, call.args)
        layer = self._with_arguments(layer, args, kwargs, call)
        assert not isinstance(label, Poison)
        return self._apply(layer, inputs, label, stage.label_span, stage.span, frame, spans)

    def _layer(self, value: Any, span: Span, name: str | None = None) -> Layer:
        if isinstance(value, Layer):
            return value
        if isinstance(value, BlockRef):
            return Layer(value.definition.name, span, block=value)
        if isinstance(value, ModelRef):
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
        written = call.args[len(call.args) - len(args) :]
        lists: list[tuple[int | str, ast.Expr]] = [
            *enumerate(written),
            *((k.name, k.value) for k in call.keywords),
        ]
        return Layer(
            layer.name,
            call.span,
            tuple(args),
            tuple(a.span for a in written),
            kwargs,
            {k.name: k.span for k in call.keywords},
            layer.block,
            {
                key: tuple(i.span for i in e.items)
                for key, e in lists
                if isinstance(e, ast.ListExpr)
            },
        )

    def _stages(self, stages: tuple[ast.Stage, ...], value: Any, frame: Frame) -> Any:
        """`value -> stage -> ...`. A failed stage is reported and its output is POISON: the
        names of each later stage are still looked up (every typo of a chain in one run), and
        nothing after it is shape-checked (no follow-on errors)."""
        for stage in stages:
            value = self._or_poison(self._stage, stage, value, frame)
        return value

    def _or_poison(self, rule: Callable[..., Any], *args: Any) -> Any:
        try:
            return rule(*args)
        except Failed as failed:
            self.report(failed.diagnostic)
            return POISON

    def _stage(self, stage: ast.Stage, value: Any, frame: Frame) -> Any:
        inputs = tensors_of(value)
        if isinstance(value, Poison) or (inputs is not None and not inputs):
            self._look_up(stage.body, frame)
            return POISON
        if inputs is None:
            raise fail(
                "NL2018", f"`->` needs a tensor on its left, got {describe(value)}", stage.span
            )
        label = label_of(stage, lambda expr: self.eval(expr, frame))
        if isinstance(label, Poison):
            return POISON
        body = stage.body
        if isinstance(body, ast.Group):
            name = frame.scope.name(label, stage.label_span)
            with self._scope(frame, Scope(tuple(name.split(".")))):
                value = self._stages(body.stages, value, frame)
            self._record_scope(name, None, stage.span, value)
            return value
        spans: list[Span | None] = [None] * len(inputs)  # what flows in is located at the layer
        if isinstance(body, ast.Name):
            layer = self._layer(self._name(body.id, body.span, frame), body.span, body.id)
            if layer.span is not body.span:  # a layer named by a variable: located here
                layer = dataclasses.replace(layer, span=body.span)
        else:
            func = self._name(body.func.id, body.func.span, frame)  # type: ignore[union-attr]
            layer = self._layer(func, body.func.span, body.func.id)  # type: ignore[union-attr]
            args, kwargs = self._arguments(body, frame)
            if any(isinstance(v, Poison) for v in (*args, *kwargs.values())):
                return POISON
            if self._takes_more_inputs(layer):
                more, more_spans = self._take_inputs(args, body.args)  # type: ignore[union-attr]
                inputs, spans = [*inputs, *more], [*spans, *more_spans]
            layer = self._with_arguments(layer, args, kwargs, body)
        return self._apply(layer, inputs, label, stage.label_span, stage.span, frame, spans)

    def _look_up(self, body: ast.Expr, frame: Frame) -> None:
        """A stage after a failed one: its layer and arguments are looked up, not applied."""
        if isinstance(body, ast.Group):
            self._stages(body.stages, POISON, frame)
            return
        call = body if isinstance(body, ast.Call) else None
        func = call.func if call is not None else body
        assert isinstance(func, ast.Name)
        value = self._name(func.id, func.span, frame)
        if not isinstance(value, Poison):
            self._layer(value, func.span, func.id)
        if call is not None:
            self._arguments(call, frame)

    @staticmethod
    def _take_inputs(
        args: list[Any], written: tuple[ast.Expr, ...]
    ) -> tuple[list[Tensor], list[Span | None]]:
        """Pop the leading tensor arguments (a tuple gives its tensors): the layer's inputs, and
        where each is written."""
        inputs: list[Tensor] = []
        spans: list[Span | None] = []
        for node in written:
            tensors = tensors_of(args[0]) if args else None
            if tensors is None:
                break
            args.pop(0)
            inputs += tensors
            spans += [node.span] * len(tensors)
        return inputs, spans

    @staticmethod
    def _takes_no_inputs(layer: Layer) -> bool:
        """An op of no inputs (`param`) is applied where it is called, labelled or not."""
        return layer.block is None and REGISTRY[layer.name].arity[1] == 0

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
        input_spans: list[Span | None] | None = None,
    ) -> Any:
        if layer.block is not None:
            return self._instantiate(layer, inputs, label, label_span, span, frame)
        return self._apply_op(layer, inputs, label, label_span, span, frame, input_spans)

    def _apply_op(
        self,
        layer: Layer,
        inputs: list[Tensor],
        label: str | None,
        label_span: Span | None,
        span: Span,
        frame: Frame,
        input_spans: list[Span | None] | None = None,
    ) -> Any:
        """Apply an op; `input_spans` says where each input is written (None: at the layer)."""
        spec = REGISTRY[layer.name]
        try:
            attrs = bind(spec, list(layer.args), dict(layer.kwargs))
        except AttrError as exc:
            where = self._arg_span(layer, exc.arg, span, exc.item)
            raise fail(exc.code, exc.message, where, exc.hint) from None
        name = frame.scope.name(label, label_span)
        assert self.builder is not None
        if len(self.builder.nodes) >= MAX_NODES:
            raise fail("NL2023", f"the model has more than {MAX_NODES:,} layers", span)
        try:
            outputs = self.builder.apply(
                layer.name, [t.value for t in inputs], attrs, name, span, bound=True
            )
        except ShapeError as exc:
            where = span
            if exc.input is not None and exc.input < len(input_spans or ()):
                where = (input_spans or [])[exc.input] or span
            if exc.item is not None:
                name, item = exc.item
                names = [a.name for a in spec.attrs]
                arg = names.index(name) if names.index(name) < len(layer.args) else name
                where = self._arg_span(layer, arg, span, item)
            raise fail(exc.code, exc.message, where, exc.hint) from None
        types = self.builder.types
        tensors = tuple(Tensor(v, bounded(types[v], "the output", span)) for v in outputs)
        return tensors[0] if len(tensors) == 1 else tensors

    @staticmethod
    def _arg_span(
        layer: Layer, arg: int | str | None, default: Span, item: int | None = None
    ) -> Span:
        """The span of argument `arg` (its `item`-th item where it is a list literal)."""
        items = layer.item_spans.get(arg) if arg is not None else None
        if items is not None and item is not None and item < len(items):
            return items[item]
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
        definition = layer.block.definition
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
        key = instance_key(definition, layer.args, layer.kwargs, inputs)
        kept = self.instances.get(key)
        copied = copy(kept, path, inputs) if kept is not None and self._fits(kept) else None
        if kept is not None and copied is not None:
            values: tuple[Any, ...] = self._add_copy(kept, *copied)
        else:
            values = self._elaborate_instance(layer, inputs, path, span, key)
        self._record_scope(path, definition.name, span, values)
        return values[0] if len(values) == 1 else values

    def _elaborate_instance(
        self, layer: Layer, inputs: list[Tensor], path: str, span: Span, key: Hashable | None
    ) -> tuple[Any, ...]:
        """Run the block's body in a frame of its own; keep what it added under `key` when it
        reported nothing and stayed within the limits."""
        assert layer.block is not None and self.builder is not None
        definition, unit, builder = layer.block.definition, layer.block.unit, self.builder
        inner = Frame(unit, Scope(tuple(path.split("."))), "block")
        self._bind_block_params(layer, definition, inner)
        for param, tensor in zip(definition.inputs, inputs):
            inner.assign(param.name, tensor, param.span)
        before = (len(builder.nodes), len(builder.scopes), builder.parameters, self.iterations)
        reported, entered, outer_deepest = self.reports, len(self.entered), self.deepest
        self.instantiations.append((definition.name, str(span)))
        self.entered.append(definition.name)
        self.deepest = len(self.instantiations)
        try:
            self.run(definition.body, inner)
        finally:
            self.instantiations.pop()
        depth, self.deepest = (
            self.deepest - len(self.instantiations),
            max(outer_deepest, self.deepest),
        )
        self._warn_unused(inner)
        if inner.returned is None:
            raise fail(
                "NL2019",
                f"block `{definition.name}` returns nothing",
                span,
                "end the block with `return NAME`",
            )
        within = (
            len(builder.nodes) < MAX_NODES
            and builder.parameters <= MAX_PARAMETERS
            and self.iterations <= MAX_ITERATIONS
        )
        if key is not None and key not in self.instances and within and self.reports == reported:
            kept = record(
                path,
                inputs,
                builder.nodes[before[0] :],
                list(builder.scopes.values())[before[1] :],
                inner.returned,
                (builder.parameters - before[2], self.iterations - before[3], depth),
                frozenset(self.entered[entered:]),
            )
            if kept is not None:
                self.instances[key] = kept
        return inner.returned

    def _fits(self, kept: Instance) -> bool:
        """Whether elaborating the instance again would stay within every limit, as it did."""
        assert self.builder is not None
        return (
            not kept.blocks & {name for name, _ in self.instantiations}
            and len(self.instantiations) + kept.depth < MAX_DEPTH
            and len(self.builder.nodes) + len(kept.nodes) < MAX_NODES
            and self.builder.parameters + kept.parameters < MAX_PARAMETERS
            and self.iterations + kept.iterations < MAX_ITERATIONS
        )

    def _add_copy(
        self,
        kept: Instance,
        nodes: list[Node],
        scopes: list[NameScope],
        returned: tuple[Tensor, ...],
        types: dict[str, TensorType],
    ) -> tuple[Tensor, ...]:
        assert self.builder is not None
        self.builder.nodes += nodes
        self.builder.types.update(types)
        self.builder.scopes.update((s.name, s) for s in scopes)
        self.builder.parameters += kept.parameters
        self.iterations += kept.iterations
        self.entered += kept.blocks
        self.deepest = max(self.deepest, len(self.instantiations) + kept.depth)
        return returned

    def _record_scope(self, name: str, block: str | None, span: Span, value: Any) -> None:
        tensors = tensors_of(value) or [
            t for v in (value if isinstance(value, tuple) else ()) for t in tensors_of(v) or []
        ]
        assert self.builder is not None
        self.builder.scope(name, block, span, [t.value for t in tensors])


def tensors_of(value: Any) -> list[Tensor] | None:
    """The tensors a value stands for (a tensor, or a tuple/list of them), else None."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, Tensor) for v in value):
        return list(value)
    return None
