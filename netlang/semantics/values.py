"""Compile-time values the elaborator computes with: constants are plain Python values; these
are the rest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netlang.ir import TensorType
from netlang.diagnostics.source import Span
from netlang.syntax import ast


@dataclass(frozen=True, slots=True)
class Tensor:
    """A value in the graph being built; only its type is known at compile time."""

    value: str
    type: TensorType
    description = "a tensor"


@dataclass(frozen=True, slots=True)
class BlockRef:
    definition: ast.BlockDef
    unit: Any  # loader.Unit (kept loose to avoid an import cycle)
    description = "a block"


@dataclass(frozen=True, slots=True)
class Layer:
    """An op or block with its arguments given but not yet applied to tensors (`conv2d(6, 5)`)."""

    name: str
    span: Span
    args: tuple[Any, ...] = ()
    arg_spans: tuple[Span, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    kwarg_spans: dict[str, Span] = field(default_factory=dict)
    block: BlockRef | None = None
    # the items' spans of arguments written as list literals, by position or keyword
    item_spans: dict[int | str, tuple[Span, ...]] = field(default_factory=dict)
    description = "a layer"


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    function: Callable[..., Any]
    description = "a function"


class Poison:
    """The value of an expression that already produced an error; silences follow-on errors."""

    description = "an erroneous value"


POISON = Poison()
