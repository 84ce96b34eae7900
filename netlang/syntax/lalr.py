"""The LALR parser of the grammar (analysed once, cached on disk) and its errors as located
diagnostics with human token names; `parser` and `to_ast` both use it."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Any

import lark

from netlang.diagnostics import Diagnostic, Label, error
from netlang.diagnostics.source import SourceFile, split_lines
from netlang.syntax.scans import CLOSERS, argument_comma, character_hint, comma_hint, eof_hint
from netlang.syntax.scans import misplaced
from netlang.syntax.scans import reserved_hint, token_hint, unclosed_bracket
from netlang.syntax.assets import grammar_text

# Human names for terminals in "expected ..." messages.
TOKEN_NAMES = {
    "NAME": "a name",
    "LABEL": "a name",  # a label is a name followed by `:`
    "KWARG": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "SEMICOLON": "`;`",
    "__ANON_0": "`->`",
    "COMPARE": "a comparison",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "$END": "end of file",
}


@cache
def lalr_parser() -> lark.Lark:
    grammar = grammar_text()
    options: dict[str, Any] = {
        "parser": "lalr",
        "propagate_positions": True,
        "maybe_placeholders": True,
        # expr: the `{...}` parts of interpolated labels; _train_item: a `--set` value
        "start": ["start", "expr", "_train_item"],
    }
    cache_file = _cache_file(grammar)
    if cache_file is not None:
        try:
            return lark.Lark(grammar, cache=str(cache_file), **options)
        except OSError:
            pass  # an unwritable cache costs start-up time, nothing else
    return lark.Lark(grammar, **options)


def _cache_file(grammar: str) -> Path | None:
    """Where the analysed grammar is cached (building the LALR tables costs ~0.25 s a process):
    a private folder of the user's own, never a shared temporary directory."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "netlang"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        if base.stat().st_uid != os.getuid():
            return None
    except OSError:
        return None
    digest = hashlib.sha256(f"{lark.__version__}\n{grammar}".encode()).hexdigest()[:16]
    return base / f"grammar-{digest}.lark"


def syntax_error(source: SourceFile, exc: lark.exceptions.UnexpectedInput) -> Diagnostic:
    line, column = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        char = source.text[exc.pos_in_stream] if exc.pos_in_stream < len(source.text) else "?"
        hint = character_hint(source.text, exc.pos_in_stream)
        # a NUL or another control character, unseen on a terminal, by its code point
        shown = f"`{char}`" if char.isprintable() else f"U+{ord(char):04X}"
        return error(
            "NL1001",
            f"unexpected character {shown}",
            source.span(line, column, line, column + 1),
            hint=hint,
        )
    token = getattr(exc, "token", None)
    if isinstance(exc, lark.exceptions.UnexpectedEOF) or (
        token is not None and token.type == "$END"
    ):
        last = split_lines(source.text.rstrip()) or [""]
        end_line, end_column = len(last), len(last[-1]) + 1
        opened = unclosed_bracket(source.text, len(source.text))
        secondary = ()
        if opened is not None:
            o_line, o_column, bracket = opened
            where = source.span(o_line, o_column, o_line, o_column + 1)
            secondary = (Label(where, f"`{bracket}` opened here and never closed"),)
        return error(
            "NL1003",
            "unexpected end of file",
            source.span(end_line, end_column, end_line, end_column + 1),
            hint=eof_hint(source.text),
            secondary=secondary,
        )
    assert token is not None
    expected = sorted({_describe(t) for t in getattr(exc, "expected", ())})
    earlier = misplaced(source.text, exc.pos_in_stream, expected) or argument_comma(
        source.text, exc.pos_in_stream, expected
    )
    if earlier is not None:
        (s_line, s_column), (e_line, e_column), message, hint = earlier
        return error("NL1002", message, source.span(s_line, s_column, e_line, e_column), hint=hint)
    width = max(1, len(str(token)))
    hint = token_hint(str(token), expected) or comma_hint(source.text, exc.pos_in_stream, expected)
    hint = hint or reserved_hint(source.text, exc.pos_in_stream, keywords())
    if hint is None and 0 < len(expected) <= 5:
        hint = (
            "expected "
            + ", ".join(expected[:-1])
            + (" or " if len(expected) > 1 else "")
            + expected[-1]
        )
    secondary = ()
    opened = unclosed_bracket(source.text, exc.pos_in_stream)
    specific = hint is not None and not hint.startswith("expected ")
    # an unexpected token inside a body is rarely a missing `}`; inside ( or [ it often is
    if (
        opened is not None
        and opened[2] in "(["
        and f"`{CLOSERS[opened[2]]}`" in expected
        and not specific
    ):
        o_line, o_column, bracket = opened
        label = Label(
            source.span(o_line, o_column, o_line, o_column + 1), f"`{bracket}` opened here"
        )
        secondary = (label,)
        hint = f"close the `{bracket}` opened at line {o_line} with `{CLOSERS[bracket]}`"
    return error(
        "NL1002",
        f"unexpected `{token}`",
        source.span(line, column, line, column + width),
        hint=hint,
        secondary=secondary,
    )


def _describe(terminal: str) -> str:
    """A terminal as a person would name it: `{`, a name, end of file."""
    if terminal in TOKEN_NAMES:
        return TOKEN_NAMES[terminal]
    pattern = lalr_parser().get_terminal(terminal).pattern
    return f"`{pattern.value}`" if pattern.type == "str" else terminal.lower()


def keywords() -> list[str]:
    """The reserved words, as the grammar spells them (editors highlight and complete these)."""
    words = {
        t.pattern.value
        for t in lalr_parser().terminals
        if t.pattern.type == "str" and t.pattern.value.isidentifier()
    }
    return sorted(words)
