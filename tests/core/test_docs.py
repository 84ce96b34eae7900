"""Every ```netlang example in docs/language.md and the README compiles cleanly, and the docs
cover every layer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netlang.ops import REGISTRY
from netlang.semantics.program import compile_source
from netlang.diagnostics.source import SourceFile

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "language.md"
EXAMPLES = [
    example
    for page in (DOC, REPO / "README.md")
    for example in re.findall(r"```netlang\n(.*?)```", page.read_text(), flags=re.S)
]


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_documented_example_compiles_without_diagnostics(example: str) -> None:
    program, diagnostics, _ = compile_source(SourceFile("example.net", example))
    assert program is not None, diagnostics
    assert program.check() == []


def test_every_layer_is_documented() -> None:
    text = DOC.read_text()
    assert [op for op in REGISTRY if f"`{op}`" not in text] == []
    assert len(EXAMPLES) >= 15
