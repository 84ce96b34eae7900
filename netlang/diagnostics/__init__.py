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
    # what `items` holds, as a set: a file of thousands of mistakes is not checked in quadratic time
    seen: set[Diagnostic] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.seen.update(self.items)

    def report(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self.seen:
            self.seen.add(diagnostic)
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
    return NameHints(candidates).hint(name)


_CUTOFF = 0.6  # difflib.get_close_matches' default: a ratio below it is no suggestion


class NameHints:
    """`did_you_mean` over a fixed set of names, indexed once (a file's namespace and every op):
    a file with thousands of misspellings asks difflib only about names of a length that can
    reach the cutoff, once per distinct misspelling. The answer is get_close_matches(n=1)'s."""

    def __init__(self, candidates: Iterable[str]) -> None:
        self._by_lower: dict[str, list[str]] = {}
        self._by_length: dict[int, list[str]] = {}
        for c in sorted(set(candidates)):
            self._by_lower.setdefault(c.lower(), []).append(c)
            self._by_length.setdefault(len(c), []).append(c)
        self._memo: dict[str, tuple[str | None, tuple[float, str] | None]] = {}

    def hint(self, name: str, extra: Iterable[str] = ()) -> str | None:
        """The hint for `name` among these names and `extra` (a scope's few local names)."""
        same, close = self._best(name)
        if extra:
            more_same, more_close = NameHints(extra)._best(name)
            same = min(filter(None, (same, more_same)), default=None)
            close = max(filter(None, (close, more_close)), default=None)
        if same is not None:
            return f"did you mean `{same}`?"
        return f"did you mean `{close[1]}`?" if close else None

    def _best(self, name: str) -> tuple[str | None, tuple[float, str] | None]:
        """(the first name differing only in case, (ratio, name) of the closest): difflib's
        ranking, so ties go to the name that sorts last, as get_close_matches breaks them."""
        if name in self._memo:
            return self._memo[name]
        same = next((c for c in self._by_lower.get(name.lower(), ()) if c != name), None)
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(name)
        close: tuple[float, str] | None = None
        for length, names in self._by_length.items():
            if 2.0 * min(length, len(name)) / (length + len(name)) < _CUTOFF:
                continue  # real_quick_ratio: the length ratio bounds the ratio
            for c in names:
                matcher.set_seq1(c)
                if matcher.quick_ratio() >= _CUTOFF and (ratio := matcher.ratio()) >= _CUTOFF:
                    close = max(close, (ratio, c)) if close else (ratio, c)
        self._memo[name] = same, close
        return same, close
