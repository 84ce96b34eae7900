"""Argument binding for data and augmentation calls: Call + parameter names -> {name: value}."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from netlang.train_spec import Call


def bind(call: Call, params: tuple[str, ...]) -> dict[str, Any]:
    """Positional and keyword arguments of `call` -> {parameter: value}.

    Raises:
        ValueError: too many positional arguments, an unknown or a repeated argument.
    """
    if len(call.args) > len(params):
        raise ValueError(f"{call.name} takes at most {len(params)} positional arguments "
                         f"({', '.join(params)}), got {len(call.args)}")
    args = dict(zip(params, call.args))
    for name, value in call.kwargs.items():
        if name not in params:
            raise ValueError(f"{call.name} has no argument {name!r}{suggest(name, params)}; "
                             f"its arguments are {', '.join(params) or '(none)'}")
        if name in args:
            raise ValueError(f"{call.name}: argument {name!r} is given twice")
        args[name] = value
    return args


def suggest(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_number(value: Any) -> bool:
    """An int or float written in the source (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
