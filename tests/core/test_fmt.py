"""`netlang fmt`: idempotent, and meaning-preserving (same AST, same IR, still clean) on every
`.net` text the repository has, the language reference's examples and a fuzzed corpus."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from tests.hypothesis_settings import FUZZ
from test_fuzz import mutations

from netlang.cli import main
from netlang.diagnostics import Severity
from netlang.diagnostics.source import SourceFile
from netlang.semantics.program import compile_source
from netlang.syntax.format import format_source
from netlang.syntax.parser import parse

REPO = Path(__file__).resolve().parents[2]
# What CI keeps formatted: every .net file but the error goldens (deliberately malformed inputs).
REPO_FILES = sorted(
    p for p in REPO.rglob("*.net") if "golden" not in p.parts and ".git" not in p.parts
)
DOC_BLOCKS = [
    (f"{doc}#{i}", block)
    for doc in ("README.md", "docs/language.md")
    for i, block in enumerate(re.findall(r"```netlang\n(.*?)```", (REPO / doc).read_text(), re.S))
]


def without_spans(node: Any) -> Any:
    """An AST as plain data, positions left out."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__,) + tuple(
            (f.name, without_spans(getattr(node, f.name)))
            for f in dataclasses.fields(node)
            if f.name not in {"span", "label_span"}
        )
    if isinstance(node, tuple):
        return tuple(without_spans(x) for x in node)
    return node


def meaning(text: str) -> tuple[Any, bool, dict[str, Any]]:
    """AST, whether the file checks clean, and every model's IR (origins left out)."""
    source = SourceFile("m.net", text)
    module, _ = parse(source)
    program, diagnostics, _ = compile_source(source)
    if program is None:
        return without_spans(module), False, {}
    clean = not any(d.severity is Severity.ERROR for d in program.check())
    graphs = {}
    for name in program.models:
        graph, _ = program.build(name)
        graphs[name] = graph and (
            [v.name for v in graph.inputs],
            [(v.name, v.type) for v in graph.outputs],
            [{k: v for k, v in vars_of(n).items() if k != "origin"} for n in graph.nodes],
            graph.arguments,
            graph.doc,
        )
    return without_spans(module), clean, graphs


def vars_of(node: Any) -> dict[str, Any]:
    return {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}


def assert_formats_faithfully(text: str) -> str:
    formatted, diagnostics = format_source(SourceFile("m.net", text))
    assert formatted is not None, diagnostics
    assert format_source(SourceFile("m.net", formatted))[0] == formatted, "not idempotent"
    before, after = meaning(text), meaning(formatted)
    assert after[0] == before[0], "the AST changed"
    assert after[1] or not before[1], "a clean file stopped checking clean"
    assert after[2] == before[2], "a model's IR changed"
    return formatted


@pytest.mark.parametrize("path", REPO_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_repository_files_format_faithfully(path: Path) -> None:
    assert_formats_faithfully(path.read_text())


@pytest.mark.parametrize(("where", "block"), DOC_BLOCKS, ids=[w for w, _ in DOC_BLOCKS])
def test_documented_examples_format_faithfully(where: str, block: str) -> None:
    if parse(SourceFile("doc.net", block))[0] is None:
        pytest.skip("a fragment, not a whole file")
    assert_formats_faithfully(block)


@pytest.mark.fuzz
@settings(FUZZ, max_examples=150)
@given(mutations())
def test_fuzzed_sources_format_faithfully(text: str) -> None:
    if parse(SourceFile("m.net", text))[0] is not None:
        assert_formats_faithfully(text)


def test_comments_stay_beside_their_stage_and_statement() -> None:
    text = (
        "model M {\n"
        "    input x: float32[N, 4]   # features\n"
        "\n\n"
        "    # the head\n"
        "    y = x -> linear(8)  # hidden\n"
        "          # squash\n"
        "          -> relu -> linear(2)\n"
        "    output y\n"
        "    # end\n"
        "}\n"
    )
    assert assert_formats_faithfully(text) == (
        "model M {\n"
        "    input x: float32[N, 4]  # features\n"
        "\n"
        "    # the head\n"
        "    y = x -> linear(8)  # hidden\n"
        "          # squash\n"
        "          -> relu\n"
        "          -> linear(2)\n"
        "    output y\n"
        "    # end\n"
        "}\n"
    )


def test_spacing_is_canonical_and_long_calls_wrap_after_their_bracket() -> None:
    text = "model M(a:int=1){input x:float32[N,4]\ny=x->linear( a*2+1 ,bias=false)->relu\noutput y}"
    assert assert_formats_faithfully(text) == (
        "model M(a: int = 1) {\n"
        "    input x: float32[N, 4]\n"
        "    y = x -> linear(a * 2 + 1, bias=false) -> relu\n"
        "    output y\n"
        "}\n"
    )
    long = "c = f(" + ", ".join(f"argument_{i}" for i in range(12)) + ")\n"
    lines = assert_formats_faithfully(long).splitlines()
    assert len(lines) == 2 and lines[1].startswith(" " * 6 + "argument_")
    assert all(len(line) <= 100 for line in lines)


def test_parentheses_follow_precedence() -> None:
    text = "c = (a + b) * -(c - d) ** 2 - (e - f)\nd = (not a) == b\nt = (x,)\n"
    assert assert_formats_faithfully(text) == (
        "c = (a + b) * -(c - d) ** 2 - (e - f)\nd = (not a) == b\nt = (x,)\n"
    )


def test_train_values_line_up_within_a_group() -> None:
    text = 'train M {\n  data d(x=1)\n  batch 8\n\n  early_stop patience=3  metric="val"\n}\n'
    assert format_source(SourceFile("t.net", text))[0] == (
        'train M {\n    data  d(x=1)\n    batch 8\n\n    early_stop patience=3 metric="val"\n}\n'
    )


def test_check_reports_without_writing_and_diff_shows_the_change(tmp_path: Path) -> None:
    path = tmp_path / "m.net"
    path.write_text("model M{input x:float32[N,2]\noutput x}\n")
    runner = CliRunner()
    result = runner.invoke(main, ["fmt", "--check", str(path)])
    assert result.exit_code == 1 and "would reformat" in result.output
    result = runner.invoke(main, ["fmt", "--diff", str(path)])
    assert result.exit_code == 0 and "+    input x: float32[N, 2]" in result.output
    assert path.read_text() == "model M{input x:float32[N,2]\noutput x}\n"
    assert runner.invoke(main, ["fmt", str(path)]).exit_code == 0
    assert runner.invoke(main, ["fmt", "--check", str(path)]).exit_code == 0
    path.write_text("model M {")
    assert runner.invoke(main, ["fmt", str(path)]).exit_code == 2


def test_repository_is_formatted_without_importing_torch() -> None:
    """What CI runs: `netlang fmt --check` over the repository's .net files."""
    code = (
        "import sys; sys.modules['torch'] = None; from netlang.cli import main; "
        f"main(['fmt', '--check', *{[str(p) for p in REPO_FILES]!r}])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("odd", ["\x85", "\u2028", "\x0c", "\r"])
def test_comment_holding_a_unicode_line_separator_stays_one_comment(odd: str) -> None:
    text = f"model M {{\n    input x: float32[N, 4]  # a{odd}b\n    output x\n}}\n"
    formatted = assert_formats_faithfully(text)
    assert f"# a{odd}b" in formatted


def test_a_comment_holding_a_unicode_line_break_stays_one_line() -> None:
    text = "# a\x85b \u2028 c\x0cd\nmodel M {\n    input x: float32[N, 4]\n    output x\n}\n"
    formatted, diagnostics = format_source(SourceFile("m.net", text))
    assert diagnostics == [] and formatted == text
