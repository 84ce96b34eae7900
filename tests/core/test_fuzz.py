"""Robustness: random text and random mutations of real `.net` files only ever yield diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlang.semantics.program import compile_source
from netlang.diagnostics.source import SourceFile

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted(
    [
        *REPO.glob("examples/*.net"),
        *REPO.glob("stdlib/*.net"),
        *REPO.glob("tests/golden/errors/*.net"),
    ]
)
TEXTS = [p.read_text() for p in SEEDS]
TOKENS = [
    "->",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "==",
    "model",
    "block",
    "input",
    "output",
    "return",
    "if",
    "else",
    "for",
    "in",
    "train",
    "x",
    "N",
    "conv2d",
    "linear",
    "relu",
    "flatten",
    "1",
    "0",
    "-1",
    "3.5",
    '"s"',
    "+",
    "*",
    "//",
    "\n",
    " ",
    "#",
    "test",
    "true",
    "range(3)",
    "channels(x)",
    "stage",
    "import",
    "add",
    "concat",
    "split",
]

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def compiles_to_diagnostics(text: str) -> None:
    """Compile and check everything; any exception here is a compiler bug."""
    program, diagnostics, _ = compile_source(SourceFile("fuzz.net", text))
    if program is not None:
        program.check()


@st.composite
def mutations(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        stop = draw(st.integers(start, min(len(text), start + 12)))
        replacement = draw(st.sampled_from(["", *TOKENS]) | st.text(max_size=4))
        text = text[:start] + replacement + text[stop:]
    return text


@pytest.mark.fuzz
@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=40).map(" ".join))
def test_random_token_soup_yields_only_diagnostics(text: str) -> None:
    compiles_to_diagnostics(text)


@pytest.mark.fuzz
@FUZZ
@given(mutations())
def test_mutated_real_files_yield_only_diagnostics(text: str) -> None:
    compiles_to_diagnostics(text)
