"""`--set NAME=VALUE` on the command line: text -> a model argument (a `.net` constant) or a
train-section entry (parsed as one more line of the section, so `sgd(lr=0.1)` and `cosine` mean
what they mean there). Values are parsed by the language's own grammar, never by Python.

Each value is its own source, `--set 'NAME=VALUE'` holding the text typed (or the `--sweep`
text it came from), so its diagnostics show that text with a caret under the bad part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netlang.diagnostics import CompileError, DiagnosticSink, did_you_mean, error
from netlang.diagnostics.source import SourceFile, Span
from netlang.semantics.elaborate import Elaborator
from netlang.semantics.frames import Failed, Frame, Scope
from netlang.semantics.loader import Loader
from netlang.semantics.train_schema import SCHEMA
from netlang.syntax import ast
from netlang.syntax.fragment import parse_train_entry

# Where a value was typed: its source (one line) and the 1-based column the value starts at.
Origin = tuple[SourceFile, int]
Origins = Mapping[str, Origin]


def split_setting(text: str) -> tuple[str, str]:
    """`"lr=0.1"` -> ("lr", "0.1").

    Raises:
        ValueError: no `=`, or the name is not an identifier.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    return key.strip(), value.strip()


def origin(key: str, text: str, origins: Origins | None = None) -> Origin:
    """Where `key`'s value was typed: `origins`' entry, else its own `--set 'KEY=TEXT'`."""
    if origins and key in origins:
        return origins[key]
    typed = f"{key}={text}"
    return SourceFile(f"--set {quoted(typed)}", typed), len(key) + 2


def quoted(text: str) -> str:
    """`text` in single quotes, as a shell reads it back."""
    return "'" + text.replace("'", "'\\''") + "'"


def setting_sources(
    settings: Mapping[str, str], origins: Origins | None = None
) -> dict[str, SourceFile]:
    """{source name: source} of the values, for rendering their diagnostics."""
    found = (origin(k, v, origins)[0] for k, v in settings.items())
    return {source.name: source for source in found}


def value_spans(settings: Mapping[str, str], origins: Origins | None = None) -> dict[str, Span]:
    """Where each value was typed: a model argument of the wrong type is shown there."""
    spans = {}
    for key, text in settings.items():
        source, column = origin(key, text, origins)
        spans[key] = source.span(1, column, 1, column + max(len(text), 1))
    return spans


def _aligned(key: str, text: str, where: Origin, between: str) -> SourceFile:
    """`key`, `between`, then `text` at the column it was typed in, under the origin's name:
    the parsed text's positions are the typed text's."""
    source, column = where
    gap = max(column - len(key) - 1 - len(between), 0)
    return SourceFile(source.name, f"{key}{between}{' ' * gap}{text}")


def constant(key: str, text: str, origins: Origins | None = None) -> Any:
    """A model argument: `text` evaluated as a `.net` constant (numbers, strings, lists, ...).

    Raises:
        CompileError: the text is not a constant (located in the typed text).
    """
    where = origin(key, text, origins)
    sink = DiagnosticSink()
    loader = Loader(sink)
    unit = loader.load_source(_aligned(key, text, where, "="))
    sources = {where[0].name: where[0]}
    if unit is None or key not in unit.definitions:
        raise CompileError(sink.items or [_not_read(key, text, where)], sources)
    definition = unit.definitions[key]
    assert isinstance(definition, ast.ConstDef)
    try:
        return Elaborator(unit, sink).eval(definition.value, Frame(unit, Scope(()), "const"))
    except Failed as failed:
        raise CompileError([failed.diagnostic], sources) from None


def train_entries(
    settings: Mapping[str, str], origins: Origins | None = None
) -> tuple[ast.TrainEntry, ...]:
    """Train-section entries, each `KEY VALUE` read as a line of a train section (`early_stop
    patience=5` as `--set early_stop=patience=5` too).

    Raises:
        CompileError: a value that is not valid train-section syntax.
    """
    entries: list[ast.TrainEntry] = []
    for key, text in settings.items():
        where = origin(key, text, origins)
        entry, diagnostics = parse_train_entry(_aligned(key, text, where, " "))
        if entry is None:
            raise CompileError(diagnostics, {where[0].name: where[0]})
        entries.append(entry)
    return tuple(entries)


def split_settings(
    settings: Mapping[str, str],
    parameters: Iterable[str],
    model: str,
    origins: Origins | None = None,
) -> tuple[dict[str, Any], tuple[ast.TrainEntry, ...]]:
    """Model arguments (names that are the model's parameters) and train entries (names that
    are train settings); a name that is both is the model's parameter.

    Raises:
        CompileError: a name that is neither, or a value that does not parse.
    """
    params = list(parameters)
    arguments = {k: constant(k, v, origins) for k, v in settings.items() if k in params}
    rest = {k: v for k, v in settings.items() if k not in params}
    unknown = sorted(k for k in rest if k not in SCHEMA)
    if unknown:
        key = unknown[0]
        source, column = origin(key, rest[key], origins)
        start = column - len(key) - 1
        message = f"`{key}` is not a parameter of {model} nor a train setting"
        hint = did_you_mean(key, [*params, *SCHEMA]) or (
            f"{model}'s parameters: {', '.join(params) or 'none'}; train settings: "
            + ", ".join(sorted(SCHEMA))
        )
        span = source.span(1, start, 1, start + len(key))
        raise CompileError([error("NL2003", message, span, hint=hint)], {source.name: source})
    return arguments, train_entries(rest, origins)


def _not_read(key: str, text: str, where: Origin) -> Any:
    span = value_spans({key: text}, {key: where})[key]
    return error("NL1002", f"cannot read the value of {key}", span)
