"""Interpolated stage labels: `denselayer{i + 1}: ...` -> "denselayer3" at compile time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netlang.ops.registry import describe
from netlang.semantics.frames import fail
from netlang.semantics.values import POISON, Poison
from netlang.syntax import ast


def label_of(stage: ast.Stage, evaluate: Callable[[ast.Expr], Any]) -> str | None | Poison:
    """The stage's label, its `{expr}` parts evaluated (integers or strings); POISON after an
    error in a part."""
    if not stage.label_parts:
        return stage.label
    text = []
    for part in stage.label_parts:
        if isinstance(part, str):
            text.append(part)
            continue
        value = evaluate(part)
        if isinstance(value, Poison):
            return POISON
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise fail(
                "NL2005",
                f"a label part must be an integer or a string, got {describe(value)}",
                part.span,
            )
        text.append(str(value))
    label = "".join(text)
    if not label or not all(c.isalnum() or c in "_-" for c in label):
        raise fail("NL2005", f"label `{label}` is not a name", stage.label_span or stage.span)
    return label
