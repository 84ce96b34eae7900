"""Robustness: random text and random mutations of real `.net` files only ever yield diagnostics."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from tests.hypothesis_settings import FUZZ
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
TEXTS = [p.read_text(errors="replace") for p in SEEDS]  # one golden is not UTF-8
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


# Every number written in the seed files, by position, and what a careless edit or a student puts
# there instead: zero, negatives, huge values, float specials and numbers that overflow.
NUMBER = re.compile(r"(?<![\w.])\d[\d_]*(?:\.\d+)?(?:e-?\d+)?(?![\w.])")
NUMBERS = {i: [m.span() for m in NUMBER.finditer(t)] for i, t in enumerate(TEXTS)}
NUMBERED = [i for i, spans in NUMBERS.items() if spans]
NUMERIC = ["0", "-1", "-7", "0.0", "-0.5", "1e-300", "1e308", "1e999", "2 ** 63", "10 ** 31"]
NUMERIC += ["10 ** 10 ** 10", "9" * 40, "(2 ** 40000)", "-(10 ** 12)", "1.5", "65536"]


@st.composite
def numeric_mutations(draw: st.DrawFn) -> str:
    """A seed file (each file as likely: the small goldens check fast) with one to three of its
    numbers, in any argument position, replaced."""
    index = draw(st.sampled_from(NUMBERED))
    text = TEXTS[index]
    chosen = draw(st.lists(st.sampled_from(NUMBERS[index]), min_size=1, max_size=3, unique=True))
    for start, stop in sorted(chosen, reverse=True):
        text = text[:start] + draw(st.sampled_from(NUMERIC)) + text[stop:]
    return text


@pytest.mark.fuzz
@settings(FUZZ, max_examples=200)  # ~10 s in CI; raise locally to hunt (see README)
@given(numeric_mutations())
def test_numbers_mutated_in_every_argument_position_yield_only_diagnostics(text: str) -> None:
    start = time.perf_counter()
    compiles_to_diagnostics(text)
    assert time.perf_counter() - start < 20  # bounded cost: sizes are limited before allocation
