"""Source text and positions: the first stage's input, and what every later stage points back to."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based, like lark
    column: int  # 1-based, in code points


@dataclass(frozen=True, slots=True)
class Span:
    file: str  # display path as the user gave it, never an absolute machine path
    start: Position
    end: Position  # exclusive

    def __str__(self) -> str:
        return f"{self.file}:{self.start.line}:{self.start.column}"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A `.net` text and the name under which diagnostics show it."""

    name: str
    text: str
    # the lines, cut once: each diagnostic rendered reads one, and a file may have thousands
    _lines: list[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A byte-order mark (Notepad's "UTF-8 with BOM") is an encoding mark, not text.
        if self.text.startswith("\ufeff"):
            object.__setattr__(self, "text", self.text[1:])

    def line(self, number: int) -> str:
        lines = self.lines()
        return lines[number - 1] if 0 < number <= len(lines) else ""

    def lines(self) -> list[str]:
        """The text's lines as the grammar counts them: ended by \n (a \r before it dropped)
        only, not by the form feeds, U+2028 and other breaks `str.splitlines` also splits at."""
        if self._lines is None:
            object.__setattr__(self, "_lines", split_lines(self.text))
        assert self._lines is not None
        return self._lines

    def span(self, line: int, column: int, end_line: int, end_column: int) -> Span:
        return Span(self.name, Position(line, column), Position(end_line, end_column))


def split_lines(text: str) -> list[str]:
    """`text` cut at each \n, as the grammar and its line numbers do (no trailing empty line)."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines
