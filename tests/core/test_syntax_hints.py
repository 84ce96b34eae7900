"""Syntax hints of netlang.syntax.scans that no golden shows on its own: the keyword tables
follow the grammar, every look-alike maps to ASCII, and a word at the start of a line that
continues a call or a train setting is not taken for a misspelt keyword."""

from __future__ import annotations

import pytest

import netlang
from netlang.diagnostics import CompileError
from netlang.syntax.parser import keywords
from netlang.syntax.scans import BODY_KEYWORDS, LOOKALIKES, TOP_KEYWORDS


def test_the_suggested_statement_words_are_keywords_of_the_grammar() -> None:
    assert set(TOP_KEYWORDS + BODY_KEYWORDS) <= set(keywords())


def test_every_lookalike_is_non_ascii_and_stands_for_ascii() -> None:
    for char, instead in LOOKALIKES.items():
        assert not char.isascii() and instead.isascii(), char


def _messages(text: str) -> list[str]:
    with pytest.raises(CompileError) as caught:
        netlang.load(text).check()
    return [d.message for d in caught.value.diagnostics]


def test_an_argument_on_its_own_line_is_not_a_misspelt_keyword() -> None:
    text = (
        "model M {\n    input x: float32[N, 4]\n    y = x -> linear(8,\n"
        '        bias=false\n        init="zeros")\n    output y\n}\n'
    )
    assert not any("is not a keyword" in m for m in _messages(text))


def test_a_lookalike_inside_a_string_or_comment_is_text() -> None:
    text = 'model M {\n    "\u201cquoted\u201d \u2212 fine"  # \u2192 too\n'
    text += "    input x: float32[N, 4]\n    y = x -> linear(2)\n    output y\n}\n"
    assert netlang.load(text).check() == []


def test_a_statement_after_an_unclosed_call_is_a_missing_paren_not_a_missing_comma() -> None:
    text = "model M {\n    input x: float32[N, 4]\n    y = x -> linear(8\n    output y\n}\n"
    with pytest.raises(CompileError) as caught:
        netlang.load(text).check()
    (found,) = caught.value.diagnostics
    assert found.message == "unexpected `output`"
    assert found.hint == "close the `(` opened at line 3 with `)`"


def test_a_string_argument_on_the_next_line_without_a_comma_is_located_whole() -> None:
    text = "model M {\n    input x: float32[N, 4]\n    y = x -> linear(8,\n        bias=false\n"
    text += '        "zeros")\n    output y\n}\n'
    with pytest.raises(CompileError) as caught:
        netlang.load(text).check()
    (found,) = caught.value.diagnostics
    assert found.message == "a `,` is probably missing between the arguments"
    assert (found.span.start.line, found.span.start.column, found.span.end.column) == (5, 9, 16)
    assert found.hint == "add `,` at the end of line 4"
