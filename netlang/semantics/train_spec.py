"""The `train` section as data: what the compiler hands to the trainer (no torch here).

A value in a train section is a plain constant (number, string, bool, list) or a `Call`:
`adam(lr=1e-3)` is Call("adam", (), {"lr": 0.001}); a bare name such as `cosine` or `val_loss`
that is not a constant in scope is Call("cosine").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from netlang.diagnostics.source import Span


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    span: Span | None = field(default=None, compare=False)
    # where each argument's value was written (absent for calls not read from source)
    arg_spans: tuple[Span, ...] = field(default=(), compare=False)
    kwarg_spans: dict[str, Span] = field(default_factory=dict, compare=False)

    def value_span(self, argument: str | None, params: tuple[str, ...]) -> Span | None:
        """Where the value bound to `argument` was written, else where the call was."""
        if argument in self.kwarg_spans:
            return self.kwarg_spans[argument]
        spans = dict(zip(params, self.arg_spans))
        return spans.get(argument or "", self.span)

    @property
    def description(self) -> str:
        """How it reads in a message (`epochs ten`: "got the name `ten`", never "got Call")."""
        return f"`{self.name}(...)`" if self.args or self.kwargs else f"the name `{self.name}`"

    def bind(self, params: tuple[str, ...]) -> dict[str, Any]:
        """Positional and keyword arguments -> {parameter: value}, by `params`' order.

        Raises:
            ValueError: too many positional arguments, an unknown or a repeated argument.
        """
        if len(self.args) > len(params):
            most = (
                f"at most {len(params)} positional arguments ({', '.join(params)})"
                if params
                else "no arguments"
            )
            raise ValueError(f"{self.name} takes {most}, got {len(self.args)}")
        bound = dict(zip(params, self.args))
        for name, value in self.kwargs.items():
            if name not in params:
                close = difflib.get_close_matches(name, params, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"{self.name} has no argument {name!r}{hint}; its arguments "
                    f"are {', '.join(params) or '(none)'}"
                )
            if name in bound:
                raise ValueError(f"{self.name}: argument {name!r} is given twice")
            bound[name] = value
        return bound

    def to_json(self) -> Any:
        """A JSON-able form, for the resolved configuration saved with a run."""
        return {
            "call": self.name,
            "args": [to_json(a) for a in self.args],
            "kwargs": {k: to_json(v) for k, v in self.kwargs.items()},
        }


def to_json(value: Any) -> Any:
    if isinstance(value, Call):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    if isinstance(value, dict) and "call" in value:
        return Call(
            value["call"],
            tuple(from_json(a) for a in value["args"]),
            {k: from_json(v) for k, v in value["kwargs"].items()},
        )
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


@dataclass(slots=True)
class Stage:
    """One stage of a staged (transfer-learning) run; its entries override the section's."""

    name: str
    entries: dict[str, Any]
    span: Span | None = None


@dataclass(slots=True)
class TrainSpec:
    model: str
    entries: dict[str, Any]
    stages: list[Stage] = field(default_factory=list)
    spans: dict[str, Span] = field(default_factory=dict)  # where each entry was written
    # where each string of a list entry was written (`freeze ["a", "b"]`): key -> {text: span}
    item_spans: dict[str, dict[str, Span]] = field(default_factory=dict)
    span: Span | None = None
    inputs: tuple[str, ...] = ()  # the model's input names, when it has several
