"""Diagnostics -> text (file:line:col, source line, carets, hint) or JSON: the only place they
become strings."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from typing import IO, Any

from netlang.diagnostics import Diagnostic, Label, Severity
from netlang.diagnostics.source import SourceFile

_COLORS = {
    Severity.ERROR: "\033[1;31m",
    Severity.WARNING: "\033[1;33m",
    Severity.NOTE: "\033[1;36m",
}
_RESET = "\033[0m"


def use_color(stream: IO[str]) -> bool:
    """Colour on a terminal; a non-empty NO_COLOR turns it off, a non-empty FORCE_COLOR on
    (no-color.org and force-color.org; NO_COLOR wins when both are set)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


def render(
    diagnostic: Diagnostic, sources: Mapping[str, SourceFile] | None = None, *, color: bool = False
) -> str:
    """Render one diagnostic in the `file:line:col: error[CODE]: message` form with carets."""
    span = diagnostic.span
    severity = diagnostic.severity.value
    if color:
        severity = f"{_COLORS[diagnostic.severity]}{severity}{_RESET}"
    lines = [f"{span}: {severity}[{diagnostic.code}]: {diagnostic.message}"]
    ordered = sorted(diagnostic.labels, key=lambda label: not label.primary)
    width = max(len(str(label.span.start.line)) for label in ordered) + 3
    for label in ordered:
        lines.extend(_excerpt(label, sources, width, diagnostic.hint if label.primary else None))
    lines.extend(f"{'':{width}}= note: {note}" for note in diagnostic.notes)
    return "\n".join(lines)


def _excerpt(
    label: Label, sources: Mapping[str, SourceFile] | None, width: int, hint: str | None
) -> list[str]:
    span = label.span
    source = (sources or {}).get(span.file)
    message = label.message if not label.primary or not hint else hint
    if label.primary and hint and label.message:
        message = f"{label.message}; {hint}"
    if source is None:
        return [f"{'':{width}} = {message}"] if message else []
    raw = source.line(span.start.line)
    # columns count characters; the carets go under what is shown
    text = raw.expandtabs(4).translate(_CONTROL_PICTURES)
    start = len(raw[: span.start.column - 1].expandtabs(4))
    if span.end.line == span.start.line:
        stop = len(raw[: span.end.column - 1].expandtabs(4))
    else:
        stop = len(text.rstrip())
    text, start, stop = _window(text, start, max(stop, start + 1))
    marks = ("^" if label.primary else "-") * (stop - start)
    prefix = "" if label.primary else f"{span.file}:{span.start.line}:{span.start.column}\n"
    tail = f" {message}" if message else ""
    return [
        f"{prefix}{span.start.line:>{width - 1}} | {text}".rstrip(),
        f"{'':{width}}| {' ' * start}{marks}{tail}".rstrip(),
    ]


# A source line longer than LONG columns (rustc's default width) is cut to WINDOW columns
# around the span, `...` marking what is left out (as rustc does), so a one-line 80,000-column
# file prints one screen line, not the file.
LONG = 140
WINDOW = 100
_LEAD = 20  # columns shown before a span that does not fit the window
_ELLIPSIS = "..."


def _window(text: str, start: int, stop: int) -> tuple[str, int, int]:
    """`text` cut to WINDOW columns around [start, stop), and the span's columns in the cut."""
    if len(text) <= LONG:
        return text, start, stop
    if stop - start <= WINDOW - 2 * _LEAD:
        begin = max(0, (start + stop - WINDOW) // 2)  # the span in the middle
    else:
        begin = max(0, start - _LEAD)  # a long span: its start, and as much as fits
    begin = min(begin, len(text) - WINDOW)
    end = begin + WINDOW
    left = _ELLIPSIS if begin > 0 else ""
    right = _ELLIPSIS if end < len(text) else ""
    shift = len(left) - begin
    return left + text[begin:end] + right, start + shift, min(stop, end) + shift


# Control characters (a NUL, an escape that would steer the terminal) shown as their pictures,
# one column each, as rustc shows them: U+0000 -> U+2400 "␀", DEL -> "␡"; the C1 controls
# (U+0080-U+009F, which some terminals obey too) as "�".
_CONTROL_PICTURES = (
    {c: 0x2400 + c for c in range(0x20)} | {0x7F: 0x2421} | dict.fromkeys(range(0x80, 0xA0), 0xFFFD)
)


def render_all(
    diagnostics: Iterable[Diagnostic],
    sources: Mapping[str, SourceFile] | None = None,
    *,
    color: bool = False,
) -> str:
    diagnostics = list(diagnostics)
    text = "\n\n".join(render(d, sources, color=color) for d in diagnostics)
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    if errors or warnings:
        text += f"\n\n{_count(errors, 'error')}, {_count(warnings, 'warning')}"
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def to_json(diagnostic: Diagnostic) -> dict[str, Any]:
    """The same fields as the dataclass, for editors and services."""

    def span(label: Label) -> dict[str, Any]:
        s = label.span
        return {
            "file": s.file,
            "line": s.start.line,
            "column": s.start.column,
            "end_line": s.end.line,
            "end_column": s.end.column,
            "message": label.message,
            "primary": label.primary,
        }

    return {
        "code": diagnostic.code,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "labels": [span(label) for label in diagnostic.labels],
        "notes": list(diagnostic.notes),
        "hint": diagnostic.hint,
    }


def print_diagnostics(
    diagnostics: list[Diagnostic],
    sources: Mapping[str, SourceFile],
    *,
    as_json: bool = False,
    stream: IO[str] | None = None,
) -> None:
    stream = stream or sys.stderr
    if as_json:
        stream.write(json.dumps([to_json(d) for d in diagnostics], indent=2) + "\n")
    elif diagnostics:
        stream.write(render_all(diagnostics, sources, color=use_color(stream)) + "\n")
