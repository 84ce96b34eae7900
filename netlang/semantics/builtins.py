"""Compile-time functions callable from `.net` expressions: shape access and list helpers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from netlang.semantics.values import Builtin, Tensor

MAX_LENGTH = 100_000  # longest list or range a program may build
SHAPE_BUILTINS = {"channels", "shape", "rank", "dim"}  # the builtins that take tensors


class BuiltinError(Exception):
    """A builtin called wrongly; the elaborator turns it into a diagnostic at the call."""


def _tensor(value: Any, fn: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise BuiltinError(f"{fn} expects a tensor")
    return value


def channels(x: Any) -> int | str:
    """Axis 1 of a tensor: its channels ([N, C, ...]) or features ([N, F])."""
    t = _tensor(x, "channels")
    if t.type.rank < 2:
        raise BuiltinError(f"channels needs at least a 2-D tensor, got rank {t.type.rank}")
    return t.type.shape[1]


def shape(x: Any) -> list[int | str]:
    return list(_tensor(x, "shape").type.shape)


def rank(x: Any) -> int:
    return _tensor(x, "rank").type.rank


def dim(x: Any, axis: Any) -> int | str:
    t = _tensor(x, "dim")
    if not isinstance(axis, int) or not -t.type.rank <= axis < t.type.rank:
        raise BuiltinError(f"dim axis must be an integer in range for rank {t.type.rank}")
    return t.type.shape[axis]


def range_(*args: Any) -> list[int]:
    if not 1 <= len(args) <= 3 or not all(
        isinstance(a, int) and not isinstance(a, bool) for a in args
    ):
        raise BuiltinError("range takes 1 to 3 integers")
    if len(args) == 3 and args[2] == 0:
        raise BuiltinError("range step must not be zero")
    values = range(*args)
    count = max(0, -((values.start - values.stop) // values.step))  # len() overflows past 2**63
    if count > MAX_LENGTH:
        raise BuiltinError(f"{count:,} values, more than the {MAX_LENGTH:,} a list may hold")
    return list(values)


def len_(value: Any) -> int:
    if not isinstance(value, (list, str)):
        raise BuiltinError("len expects a list or a string")
    return len(value)


def _numbers(fn: str, args: tuple[Any, ...]) -> list[int | float]:
    items = list(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)
    if not items or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        raise BuiltinError(f"{fn} expects numbers")
    return items


def _cast(kind: type) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BuiltinError(f"{kind.__name__} expects a number")
        return kind(value)

    return convert


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("channels", channels),
        Builtin("shape", shape),
        Builtin("rank", rank),
        Builtin("dim", dim),
        Builtin("range", range_),
        Builtin("len", len_),
        Builtin("min", lambda *a: min(_numbers("min", a))),
        Builtin("max", lambda *a: max(_numbers("max", a))),
        Builtin("sum", lambda *a: sum(_numbers("sum", a))),
        Builtin("abs", lambda x: abs(_numbers("abs", (x,))[0])),
        Builtin("int", _cast(int)),
        Builtin("ceil", lambda x: math.ceil(_numbers("ceil", (x,))[0])),  # EfficientNet depths
        Builtin("float", _cast(float)),
    )
}
