"""Golden diagnostics: each tests/golden/errors/CASE.net must render exactly CASE.err.

Regenerate with `pytest tests/test_golden_errors.py --update-golden` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netlang.diagnostics.render import render_all
from netlang.semantics.program import compile_source, read_source

CASES = Path(__file__).parent / "golden" / "errors"


def rendered(case: Path) -> str:
    program, diagnostics, sources = compile_source(read_source(case.name))
    if program is not None:
        diagnostics = program.check()
    return render_all(diagnostics, sources) + "\n"


@pytest.mark.parametrize("case", sorted(CASES.glob("*.net")), ids=lambda p: p.stem)
def test_diagnostics_render_as_golden(
    case: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.chdir(CASES)
    text = rendered(case)
    golden = case.with_suffix(".err")
    if request.config.getoption("--update-golden"):
        golden.write_text(text)
    assert golden.exists(), f"missing {golden.name}: run pytest {__file__} --update-golden"
    assert text == golden.read_text()


def test_there_are_at_least_25_distinct_mistakes() -> None:
    codes = set()
    for golden in CASES.glob("*.err"):
        codes.update(
            line.split("[")[1].split("]")[0]
            for line in golden.read_text().splitlines()
            if ": error[" in line or ": warning[" in line
        )
    assert len(list(CASES.glob("*.net"))) >= 25
    assert len(codes) >= 20
