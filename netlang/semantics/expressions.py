"""Compile-time arithmetic: operators on constants, with `.net` error messages instead of
Python's."""

from __future__ import annotations

import operator
from typing import Any

from netlang.semantics.builtins import MAX_LENGTH

LIMIT = 2**62  # integers beyond this are surely a mistake, and would make shapes absurd

_ARITH = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}
_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class EvalError(Exception):
    """An operator applied to values it does not take."""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def binary(op: str, left: Any, right: Any) -> Any:
    """Apply a binary operator to two constants."""
    if op in _COMPARE:
        return compare(op, left, right)
    if op == "+" and type(left) is type(right) and isinstance(left, (list, str)):
        return _sized(left + right)
    if (
        op == "*"
        and isinstance(left, list)
        and isinstance(right, int)
        and not isinstance(right, bool)
    ):
        if len(left) * max(right, 0) > MAX_LENGTH:
            raise EvalError(f"list of {len(left) * right} items is too long")
        return left * right
    if not (_is_number(left) and _is_number(right)):
        raise EvalError(f"`{op}` needs numbers, got {_kind(left)} and {_kind(right)}")
    if op in {"/", "//", "%"} and right == 0:
        raise EvalError("division by zero")
    if op == "**" and abs(right) > 64:
        raise EvalError(f"exponent {right} is out of range: at most 64")
    if op == "**" and left == 0 and right < 0:
        raise EvalError(f"0 cannot be raised to a negative power ({right})")
    try:
        result = _ARITH[op](left, right)
    except OverflowError:  # a float power past 1.8e308 (found by numeric fuzzing)
        raise EvalError(f"result of `{op}` is out of range: numbers are at most 2**62 in size")
    if isinstance(result, complex):
        raise EvalError(f"{left} ** {right} has no real value")
    if result != result:  # NaN, the one value unequal to itself (from inf - inf)
        raise EvalError(f"result of `{op}` is not a number (NaN)")
    if abs(result) > LIMIT:
        raise EvalError(f"result of `{op}` is out of range: numbers are at most 2**62 in size")
    return result


def compare(op: str, left: Any, right: Any) -> bool:
    if op in {"==", "!="}:
        return bool(_COMPARE[op](left, right))
    if _is_number(left) and _is_number(right) or (isinstance(left, str) and isinstance(right, str)):
        return bool(_COMPARE[op](left, right))
    raise EvalError(f"cannot order {_kind(left)} and {_kind(right)} with `{op}`")


def unary(op: str, value: Any) -> Any:
    if op == "not":
        if not isinstance(value, bool):
            raise EvalError(f"`not` needs `true` or `false`, got {_kind(value)}")
        return not value
    if not _is_number(value):
        raise EvalError(f"unary `{op}` needs a number, got {_kind(value)}")
    return -value if op == "-" else value


def _sized(value: Any) -> Any:
    if len(value) > MAX_LENGTH:
        raise EvalError(f"value of length {len(value)} is too long")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string (a symbolic dim?)" if value[:1].isupper() else "a string"
    if isinstance(value, list):
        return "a list"
    return getattr(value, "description", "a value")
