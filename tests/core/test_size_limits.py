"""Inputs of any size get located diagnostics, in bounded time: long runs of operators, long
lines, control characters, runaway syntax errors, files over the size limit (docs/language.md,
"Limits")."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from netlang.cli import main
from netlang.diagnostics import error
from netlang.diagnostics.render import WINDOW, render
from netlang.diagnostics.source import SourceFile
from netlang.lsp.reuse import ParseCache
from netlang.semantics.program import compile_source
from netlang.syntax.parser import MAX_SOURCE, MAX_SYNTAX_ERRORS, parse

HEADER = "model M() {\n    input x: float32[N, 4]\n"


def diagnostics(text: str) -> list:
    program, found, _ = compile_source(SourceFile("t.net", text))
    return program.check() if program is not None else found


def test_a_long_run_of_operators_is_refused_at_its_start_saying_how_many() -> None:
    (found,) = diagnostics(HEADER + "    y = x" + " + x" * 5_000 + "\n    output y\n}\n")
    assert found.code == "NL1004"
    assert (found.span.start.line, found.span.start.column) == (3, 9)
    assert "5,000 operators in a row" in found.message and "at most 100" in found.message


def test_a_short_run_of_operators_passes() -> None:
    assert diagnostics(HEADER + "    y = x" + " + x" * 50 + "\n    output y\n}\n") == []


def test_a_long_line_is_shown_as_a_window_around_the_span() -> None:
    line = "a" * 3_000 + " bad " + "b" * 2_000
    source = SourceFile("t.net", line + "\n")
    column = line.index("bad") + 1
    text = render(error("NL9", "m", source.span(1, column, 1, column + 3)), {"t.net": source})
    shown, carets = text.splitlines()[1:3]
    assert shown.startswith("  1 | ...") and shown.endswith("...")
    assert len(shown) <= len("  1 | ") + WINDOW + 6
    assert shown[carets.index("^") : carets.index("^") + 3] == "bad"
    assert carets.count("^") == 3


def test_a_nul_is_named_by_its_code_point_and_shown_as_its_picture() -> None:
    (found,) = diagnostics(HEADER + "    y = x -> relu\n\0\0\n    output y\n}\n")
    assert found.code == "NL1001" and found.message == "unexpected character U+0000"
    program, found, sources = compile_source(SourceFile("t.net", "\x1b[2J\0\n"))
    text = render(found[0], sources)
    assert "\x1b" not in text and "\0" not in text and "␛[2J␀" in text


def test_syntax_errors_stop_after_the_limit_with_a_note() -> None:
    broken = "model M{}() {{\n    input x: float32[N, 4]\n    y = x -> }}\n}}\n"
    text = "".join(broken.format(i) for i in range(MAX_SYNTAX_ERRORS * 5))
    start = time.process_time()
    module, errors = parse(SourceFile("t.net", text))
    assert module is None and len(errors) == MAX_SYNTAX_ERRORS
    assert "parsing stopped after 20 syntax errors" in errors[-1].notes[-1]
    assert time.process_time() - start < 5


def test_the_editor_refuses_a_file_over_the_limit_as_check_does() -> None:
    model = HEADER + "    y = x -> relu\n    output y\n}\n"
    text = "".join(model.replace("M()", f"M{i}()") for i in range(MAX_SOURCE // len(model) + 1))
    module, errors = ParseCache()(SourceFile("t.net", text))
    assert module is None and [e.code for e in errors] == ["NL1006"]
    assert f"at most {MAX_SOURCE:,}" in errors[0].message


def test_fmt_of_a_file_that_is_not_utf8_is_a_located_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "latin.net"
    path.write_bytes(b"# caf\xe9\n")
    result = CliRunner().invoke(main, ["fmt", "--check", str(path)])
    assert result.exit_code == 2
    assert "latin.net:1:6: error[NL1005]" in result.output and "Traceback" not in result.output


def _models(size: int) -> str:
    one = "model M{}() {{\n    input x: float32[N, 4]\n    y = x -> linear(8) -> relu\n"
    return "".join(f"{one.format(i)}    output y\n}}\n\n" for i in range(size // 100))


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    [
        _models(MAX_SOURCE - 1_000),
        HEADER + "    y = x" + " -> relu" * (MAX_SOURCE // 9) + "\n    output y\n}\n",
        HEADER
        + "    y = "
        + "(" * (MAX_SOURCE // 2 - 100)
        + "x"
        + ")" * (MAX_SOURCE // 2 - 100)
        + "\n    output y\n}\n",
        f"A = [{', '.join(['1'] * (MAX_SOURCE // 3 - 100))}]\n"
        + HEADER
        + "    y = x\n    output y\n}\n",
    ],
    ids=["models", "stages", "parentheses", "list"],
)
def test_a_file_just_under_the_limit_is_checked_in_seconds(text: str) -> None:
    assert len(text) <= MAX_SOURCE
    start = time.process_time()
    found = diagnostics(text)
    assert all(d.span.start.line >= 1 for d in found)
    assert time.process_time() - start < 60  # ~5 s on a 2-core CI machine


def test_many_misspelt_names_are_hinted_in_time_that_does_not_grow_with_the_file() -> None:
    """Each of 2,000 models misspells `relu`: difflib is asked about the file's names once per
    distinct misspelling, not once per error (4 M comparisons before)."""
    models = "".join(
        f"model M{i} {{\n    input x: float32[N, 4]\n    y = x -> linear(4) -> {typo}\n"
        "    output y\n}\n"
        for i, typo in enumerate(["rleu", "Relu"] * 1_000)
    )
    start = time.process_time()
    found = diagnostics(models)
    assert time.process_time() - start < 3  # CPU time: ~1 s now, ~5.5 s when hinted per error
    assert len(found) == 2_000 and {d.code for d in found} == {"NL2001"}
    assert {d.hint for d in found} == {"did you mean `relu`?"}
