"""Layer patterns of a train section (`replace`, `freeze`, `unfreeze`, `lr_mult`) -> the IR layer
names they select. Pure: `check` resolves them against the model's layers, as the trainer does.

A pattern is an exact name or a prefix (`features` covers `features.0`, `layer1` covers
`layer1.0.conv1`), a glob (`features.*`, `layer[1-3]*`, matched against a layer's name and each of
its dotted prefixes), or a range `a..b` of top-level layers in model order. A pattern that
matches nothing is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from netlang.diagnostics import did_you_mean

GLOB = re.compile(r"[*?\[]")


class TransferError(ValueError):
    """A checkpoint that does not fit the model, or a pattern that names no layer (`pattern`,
    with the nearest layer as `hint`)."""

    def __init__(self, message: str, hint: str | None = None, pattern: str | None = None):
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message, self.hint, self.pattern = message, hint, pattern


class Layers:
    """The model's layers (IR node names, in model order) and the top-level layers they form."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(names)
        self.top = list(dict.fromkeys(name.split(".")[0] for name in self.names))

    def match(self, patterns: Sequence[str], key: str) -> set[str]:
        """The layers any of `patterns` names; `key` (freeze, replace, ...) is for messages."""
        matched: set[str] = set()
        for pattern in patterns:
            found = self._match(pattern, key)
            if not found:
                hint = did_you_mean(pattern, self.names + self.top)
                raise TransferError(
                    f"train.{key}: {pattern!r} names no layer of the model",
                    hint or f"top-level layers: {', '.join(self.top)}",
                    pattern,
                )
            matched |= found
        return matched

    def _match(self, pattern: str, key: str) -> set[str]:
        if ".." in pattern:
            return self._range(pattern, key)
        if GLOB.search(pattern):
            return {
                name
                for name in self.names
                if any(fnmatchcase(prefix, pattern) for prefix in _prefixes(name))
            }
        return {name for name in self.names if name == pattern or name.startswith(pattern + ".")}

    def _range(self, pattern: str, key: str) -> set[str]:
        first, last = pattern.split("..", 1)
        for end in (first, last):
            if end not in self.top:
                hint = did_you_mean(end, self.top)
                raise TransferError(
                    f"train.{key}: range {pattern!r}: {end!r} is not a top-level layer",
                    hint or f"top-level layers: {', '.join(self.top)}",
                    pattern,
                )
        i, j = self.top.index(first), self.top.index(last)
        if i > j:
            raise TransferError(
                f"train.{key}: range {pattern!r} runs backwards: {last} comes "
                f"before {first} in the model",
                pattern=pattern,
            )
        chosen = set(self.top[i : j + 1])
        return {name for name in self.names if name.split(".")[0] in chosen}


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]
