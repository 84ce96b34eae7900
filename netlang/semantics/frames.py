"""Elaboration state: the scopes that name layers and the frames that hold variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netlang.diagnostics import Diagnostic, Label, error
from netlang.ir import TensorType, format_shape
from netlang.semantics.loader import Unit
from netlang.semantics.values import Tensor
from netlang.diagnostics.source import Span
from netlang.syntax import ast


class Failed(Exception):
    """Carries the diagnostic that stops evaluating the current statement."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic


def fail(code: str, message: str, span: Span, hint: str | None = None) -> Failed:
    return Failed(error(code, message, span, hint=hint))


MAX_VALUES = 2**31  # per sample (8 GiB of float32): past any real model's largest activation


def bounded(type_: TensorType, what: str, span: Span) -> TensorType:
    """`type_` unless its fixed sizes hold more than MAX_VALUES values: `check` says so, where
    torch would otherwise try to allocate terabytes when the model first runs."""
    values = 1
    for d in type_.shape:
        values *= d if isinstance(d, int) else 1
    if values > MAX_VALUES:
        message = (
            f"{what} {format_shape(type_.shape)} holds {values:,} values per sample "
            f"(limit {MAX_VALUES:,})"
        )
        raise fail("NL2023", message, span, "a size is probably wrong")
    return type_


@dataclass(slots=True)
class Scope:
    """A naming scope (torch's module nesting). Unlabelled layers take their position's index."""

    path: tuple[str, ...]
    counter: int = 0
    labels: dict[str, Span] = field(default_factory=dict)  # label -> where it was first given

    def name(self, label: str | None, span: Span) -> str:
        index, self.counter = self.counter, self.counter + 1
        if label is None:
            return ".".join((*self.path, str(index)))
        if label in self.labels:
            first = Label(self.labels[label], f"`{label}` first named here")
            raise Failed(
                error(
                    "NL2007",
                    f"layer name `{label}` is used twice in this scope",
                    span,
                    hint="give each layer in a scope its own name",
                    secondary=(first,),
                )
            )
        self.labels[label] = span
        return ".".join((*self.path, label))


@dataclass(slots=True)
class Frame:
    """The variables of one model or block instantiation."""

    unit: Unit
    scope: Scope
    kind: str  # "model" or "block"
    variables: dict[str, Any] = field(default_factory=dict)
    tensor_defs: dict[str, Span] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)
    returned: tuple[Any, ...] | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    tests: list[ast.TestBlock] = field(default_factory=list)
    doc: str = ""
    symbols: bool = False  # in `train` sections unknown bare names are symbols, not errors

    def assign(self, name: str, value: Any, span: Span) -> None:
        self.variables[name] = value
        if isinstance(value, (Tensor, tuple)) and name not in self.tensor_defs:
            self.tensor_defs[name] = span
