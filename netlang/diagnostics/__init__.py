"""Diagnostics are data: the compiler's error channel, rendered only at the edge (CLI, API).

Owns: `source` (SourceFile, Position, Span: where in which text), Diagnostic and its sink,
`codes` (every code with its explanation) and `render` (text with carets, JSON). The lowest
layer: imports nothing else of netlang.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from netlang.diagnostics.source import SourceFile, Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Label:
    span: Span
    message: str = ""
    primary: bool = False


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str  # "NL3001", a key into diagnostics.codes.CODES
    severity: Severity
    message: str  # one sentence, lowercase start, no full stop
    labels: tuple[Label, ...]  # exactly one primary
    notes: tuple[str, ...] = ()
    hint: str | None = None

    @property
    def span(self) -> Span:
        return next(label.span for label in self.labels if label.primary)


def error(
    code: str,
    message: str,
    span: Span,
    *,
    hint: str | None = None,
    notes: Iterable[str] = (),
    secondary: Iterable[Label] = (),
) -> Diagnostic:
    """Build an error diagnostic whose primary label is `span`."""
    return Diagnostic(
        code, Severity.ERROR, message, (Label(span, primary=True), *secondary), tuple(notes), hint
    )


def warning(
    code: str, message: str, span: Span, *, hint: str | None = None, notes: Iterable[str] = ()
) -> Diagnostic:
    return Diagnostic(
        code, Severity.WARNING, message, (Label(span, primary=True),), tuple(notes), hint
    )


@dataclass(slots=True)
class DiagnosticSink:
    """Collects diagnostics; passes report into it instead of raising."""

    items: list[Diagnostic] = field(default_factory=list)

    def report(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self.items:
            self.items.append(diagnostic)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)


class CompileError(Exception):
    """Raised at the API boundary when compilation reported errors."""

    def __init__(
        self, diagnostics: list[Diagnostic], sources: Mapping[str, SourceFile] | None = None
    ) -> None:
        """`sources` (the files read) give the message its source lines and carets, as `check`
        prints them."""
        self.diagnostics = diagnostics
        self.sources = dict(sources or {})
        from netlang.diagnostics.render import render_all

        super().__init__(render_all(diagnostics, sources, color=False))


class InternalCompilerError(Exception):
    """A compiler bug (never a user error)."""

    def __init__(self, stage: str, detail: str) -> None:
        super().__init__(f"internal compiler error in {stage}: {detail} (please report)")


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean `x`?" hint for a misspelt name, or None: the one that differs only in
    case (`ReLU` -> `relu`, as PyTorch spells it), else the closest."""
    ordered = sorted(set(candidates))
    same = [c for c in ordered if c.lower() == name.lower() and c != name]
    if same:
        return f"did you mean `{same[0]}`?"
    matches = difflib.get_close_matches(name, ordered, n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None
