"""Parameter binding: model and block arguments checked against their declared parameters.

A part of `Elaborator` (see elaborate.py): arity, unknown names with "did you mean", declared
types, defaults evaluated in the callee's frame; and the unused-tensor warning at frame end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netlang.diagnostics import DiagnosticSink, did_you_mean, error, warning
from netlang.diagnostics.source import Span
from netlang.ops.registry import describe
from netlang.semantics.frames import Failed, Frame, fail
from netlang.semantics.loader import header_span
from netlang.semantics.values import POISON, Layer, Poison
from netlang.syntax import ast

PARAM_TYPES = {
    "int": int,
    "float": (int, float),
    "bool": bool,
    "str": str,
    "list": list,
    "ints": (int, list),  # an integer or a list (Inception's kernel sizes: 3 or [1, 7])
}


class Binding:
    """Argument binding rules of the elaborator."""

    sink: DiagnosticSink

    def _bind_model_arguments(
        self,
        definition: ast.ModelDef,
        arguments: dict[str, Any],
        frame: Frame,
        spans: Mapping[str, Span],
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
                    self._check_param_type(param, value, spans.get(param.name, param.span))
                else:
                    value = self._param_default(param, frame)
            except Failed as failed:
                self.sink.report(failed.diagnostic)
                value = POISON
            frame.variables[param.name] = value

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
