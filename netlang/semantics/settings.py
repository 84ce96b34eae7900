"""`--set NAME=VALUE` on the command line: text -> a model argument (a `.net` constant) or a
train-section entry (parsed as one more line of the section, so `sgd(lr=0.1)` and `cosine` mean
what they mean there). Values are parsed by the language's own grammar, never by Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netlang.diagnostics import DiagnosticSink
from netlang.diagnostics.source import SourceFile
from netlang.semantics.elaborate import Elaborator
from netlang.semantics.frames import Failed, Frame, Scope
from netlang.semantics.loader import Loader
from netlang.semantics.train_schema import SCHEMA
from netlang.syntax import ast

SOURCE_NAME = "--set"


def split_setting(text: str) -> tuple[str, str]:
    """`"lr=0.1"` -> ("lr", "0.1").

    Raises:
        ValueError: no `=`, or the name is not an identifier.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    return key.strip(), value.strip()


def constant(key: str, text: str) -> Any:
    """A model argument: `text` evaluated as a `.net` constant (numbers, strings, lists, ...).

    Raises:
        ValueError: the text is not a constant.
    """
    sink = DiagnosticSink()
    unit = Loader(sink).load_source(SourceFile(SOURCE_NAME, f"{key} = {text}"))
    if unit is None or key not in unit.definitions:
        raise ValueError(f"cannot read the value {text!r} of {key}")
    definition = unit.definitions[key]
    assert isinstance(definition, ast.ConstDef)
    try:
        return Elaborator(unit, sink).eval(definition.value, Frame(unit, Scope(()), "const"))
    except Failed as failed:
        raise ValueError(f"{key}={text}: {failed.diagnostic.message}") from None


def train_entries(settings: Mapping[str, str]) -> tuple[ast.TrainEntry, ...]:
    """Train-section entries, each `KEY VALUE` read as a line of a train section (`early_stop
    patience=5` as `--set early_stop=patience=5` too).

    Raises:
        ValueError: a value that is not valid train-section syntax.
    """
    entries: list[ast.TrainEntry] = []
    for key, text in settings.items():
        line = f"{key} {text}"
        sink = DiagnosticSink()
        unit = Loader(sink).load_source(SourceFile(SOURCE_NAME, f"train M {{\n{line}\n}}\n"))
        if unit is None or len(unit.trains) != 1 or len(unit.trains[0].entries) != 1:
            raise ValueError(f"cannot read the train setting {key}={text}")
        entry = unit.trains[0].entries[0]
        assert isinstance(entry, ast.TrainEntry)
        entries.append(entry)
    return tuple(entries)


def split_settings(
    settings: Mapping[str, str], parameters: Iterable[str], model: str
) -> tuple[dict[str, Any], tuple[ast.TrainEntry, ...]]:
    """Model arguments (names that are the model's parameters) and train entries (names that
    are train settings); a name that is both is the model's parameter.

    Raises:
        ValueError: a name that is neither, or a value that does not parse.
    """
    params = list(parameters)
    arguments = {k: constant(k, v) for k, v in settings.items() if k in params}
    rest = {k: v for k, v in settings.items() if k not in params}
    unknown = sorted(k for k in rest if k not in SCHEMA)
    if unknown:
        raise ValueError(
            f"--set {unknown[0]}: not a parameter of {model} "
            f"({', '.join(params) or 'it has none'}) nor a train setting "
            f"({', '.join(sorted(SCHEMA))})"
        )
    return arguments, train_entries(rest)
