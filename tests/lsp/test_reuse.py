"""What the language server reuses between versions gives exactly what a fresh analysis gives,
and an edit to anything a result read (a definition, an imported file, a visible name) makes it
anew."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlang.diagnostics.source import SourceFile
from netlang.lsp.analysis import Analysis, analyse
from netlang.lsp.reuse import ParseCache
from netlang.semantics.program import Builds
from netlang.syntax.parser import parse

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*REPO.glob("stdlib/*.net"), *REPO.glob("examples/**/*.net"), *REPO.glob("tests/**/*.net")]
)

TWO_MODELS = """\
# Two models, one block.
block Pair(channels: int)(x) {
    return x -> first: conv2d(channels, 3, padding=1) -> relu
}

model Uses(classes: int = 10) {
    input image: float32[N, 1, 28, 28]
    logits = image -> pair: Pair(4) -> flatten -> fc: linear(classes)
    output logits
}

model Alone(width: int = 8) {
    input x: float32[N, 16]
    y = x -> fc: linear(width)
    output y
}
"""


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_pieces_parse_to_the_parsers_own_module_or_errors(path: Path) -> None:
    try:
        source = SourceFile(str(path.relative_to(REPO)), path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: the loader refuses it before parsing")
    assert ParseCache()(source) == parse(source)


def test_a_keystroke_in_one_definition_parses_that_definition_again_and_nothing_else() -> None:
    cache = ParseCache()
    cache(SourceFile("two.net", TWO_MODELS))
    before = cache.parsed_pieces
    edited = SourceFile("two.net", TWO_MODELS.replace("linear(width)", "linear(width + 1)"))
    assert cache(edited) == parse(edited)
    assert cache.parsed_pieces == before + 1
    assert cache(edited) == parse(edited) and cache.parsed_pieces == before + 1  # by content


LONG = (
    "model Long(width: int = 8) {\n"
    '    "A long model: its statements are parsed in runs."\n'
    "    input x: float32[N, 3, 32, 32]\n"
    + "".join(f"    h{i} = x -> c{i}: conv2d(width, 3, padding=1) -> relu\n" for i in range(12))
    + "    y = h11 -> tail: conv2d(width,\n"
    "    kernel=3, padding=1)\n"  # a keyword at the body's indentation: this run is not alone
    "    if width > 4 {\n"
    "    z = y\n"  # an `if` body at the same indentation
    "    } else {\n"
    "        z = y -> relu\n"
    "    }\n"
    "    a, b = z, z\n"
    "    test {\n"
    "    input [1, 3, 32, 32] -> output [1, 8, 32, 32]\n"
    "    }\n"
    "    output a\n"
    "}\n"
    "after = 3\n"
)


def test_a_keystroke_in_a_long_definition_parses_a_few_of_its_lines_again() -> None:
    cache = ParseCache()
    source = SourceFile("long.net", LONG)
    assert cache(source) == parse(source)
    for old, new in (("c5: conv2d(width", "c5: conv2d(width + 1"), ("kernel=3", "kernel=5")):
        before = cache.parsed_pieces
        edited = SourceFile("long.net", LONG.replace(old, new))
        assert cache(edited) == parse(edited)
        assert 1 <= cache.parsed_pieces - before <= 2  # the run, or the run and the piece


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, str]:
    """A repository file, and it after a few keystrokes (tokens, newlines, braces, keywords)."""
    text = draw(st.sampled_from(SEEDS))
    edited = text
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(edited)))
        stop = draw(st.integers(start, min(len(edited), start + 8)))
        replacement = draw(st.sampled_from(EDITS) | st.text(alphabet=" \n{}()=,x1", max_size=4))
        edited = edited[:start] + replacement + edited[stop:]
    return text, edited


SEEDS = [p.read_text() for p in FILES if p.parent.name in ("stdlib", "course")][:12]
EDITS = ["", "\n", "\nmodel M {\n", "}\n", "    x = y\n", "input", "=", "->", "# c\n", '"s"']


@pytest.mark.fuzz
@settings(max_examples=40, deadline=None, derandomize=True)  # ~3 s; hunt with more
@given(edits())
def test_after_any_keystrokes_the_pieces_parse_as_the_parser_does(texts: tuple[str, str]) -> None:
    cache = ParseCache()
    original, edited = (SourceFile("edit.net", t) for t in texts)
    cache(original)  # what the editor had: its pieces are in the cache
    assert cache(edited) == parse(edited)


def test_a_piece_with_a_syntax_error_gives_the_whole_files_diagnostics() -> None:
    cache = ParseCache()
    cache(SourceFile("two.net", TWO_MODELS))
    broken = SourceFile(
        "two.net",
        TWO_MODELS.replace("linear(width)", "linear(width").replace(
            "pair: Pair(4) ->", "pair: Pair(4) -> ->"
        ),
    )
    module, errors = cache(broken)
    assert module is None and len(errors) == 2 and (module, errors) == parse(broken)


def _same(reused: Analysis, fresh: Analysis) -> None:
    assert reused.diagnostics == fresh.diagnostics
    assert reused.graphs.keys() == fresh.graphs.keys()
    for name, graph in fresh.graphs.items():
        assert [(n.name, n.op, n.output_types, n.origin) for n in reused.graphs[name].nodes] == [
            (n.name, n.op, n.output_types, n.origin) for n in graph.nodes
        ]
    assert reused.nodes_at.keys() == fresh.nodes_at.keys()


def test_a_build_is_reused_while_nothing_it_reads_changes() -> None:
    parse_cache, builds = ParseCache(), {}
    first = analyse("two.net", TWO_MODELS, parse_cache, builds)
    alone_edited = TWO_MODELS.replace("linear(width)", "linear(width + 1)")
    second = analyse("two.net", alone_edited, parse_cache, builds)
    _same(second, analyse("two.net", alone_edited))
    assert second.graphs["Uses"] is first.graphs["Uses"]  # Pair and Uses unchanged
    assert second.graphs["Alone"] is not first.graphs["Alone"]
    block_edited = alone_edited.replace("conv2d(channels, 3, padding=1)", "conv2d(channels, 3)")
    third = analyse("two.net", block_edited, parse_cache, builds)
    _same(third, analyse("two.net", block_edited))
    assert third.graphs["Uses"] is not second.graphs["Uses"]  # it reads Pair
    assert third.graphs["Alone"] is second.graphs["Alone"]
    assert len(builds) == 2  # only the last check's builds are kept


def test_a_name_defined_elsewhere_changes_the_hint_of_a_misspelt_one() -> None:
    parse_cache, builds = ParseCache(), {}
    misspelt = TWO_MODELS.replace("Pair(4)", "Pairs(4)")
    first = analyse("two.net", misspelt, parse_cache, builds)
    _same(first, analyse("two.net", misspelt))
    renamed = misspelt.replace("block Pair(", "block Pairs(")
    second = analyse("two.net", renamed, parse_cache, builds)
    _same(second, analyse("two.net", renamed))
    assert first.diagnostics and not second.diagnostics


def test_a_definition_turned_from_block_to_model_changes_the_hint_of_a_misspelt_base() -> None:
    parse_cache, builds = ParseCache(), {}
    text = TWO_MODELS + "\nmodel Alias = Pairr()\n"
    first = analyse("two.net", text, parse_cache, builds)
    _same(first, analyse("two.net", text))
    pair = TWO_MODELS.split("\n\nmodel Uses")[0].split("\n", 1)[1]
    as_model = "model Pair(channels: int = 4) {\n    input x: float32[N, 4]; output x\n}"
    edited = text.replace(pair, as_model)  # as many lines: Alias stays where it was
    assert edited.count("\n") == text.count("\n")
    second = analyse("two.net", edited, parse_cache, builds)
    _same(second, analyse("two.net", edited))
    hints = [[d.hint for d in a.diagnostics if d.code == "NL2014"] for a in (first, second)]
    assert hints[0] != hints[1] and "Pair" in str(hints[1])


def test_an_edit_to_an_imported_file_is_seen_by_the_next_analysis(tmp_path: Path) -> None:
    library = tmp_path / "lib.net"
    library.write_text(TWO_MODELS.split("\nmodel Uses")[0])
    main = str(tmp_path / "main.net")
    text = 'import "./lib.net"\n\n' + "model Uses" + TWO_MODELS.split("\nmodel Uses")[1]
    parse_cache, builds = ParseCache(), {}
    first = analyse(main, text, parse_cache, builds)
    assert not first.diagnostics
    library.write_text(library.read_text().replace("padding=1", "padding=0"))
    second = analyse(main, text, parse_cache, builds)
    _same(second, analyse(main, text))
    assert second.graphs["Uses"] is not first.graphs["Uses"]
    assert _shape(second, "pair.first") != _shape(first, "pair.first")
    library.write_text(library.read_text().replace("block Pair(", "block Other("))
    third = analyse(main, text, parse_cache, builds)
    _same(third, analyse(main, text))
    assert [d.code for d in third.diagnostics] and "Uses" not in third.graphs


def _shape(analysis: Analysis, layer: str) -> tuple:
    node = next(n for n in analysis.graphs["Uses"].nodes if n.name == layer)
    return node.output_types


def test_builds_type_is_the_one_check_takes() -> None:
    builds: Builds = {}
    analyse("two.net", TWO_MODELS, ParseCache(), builds)
    assert {key[0] for key in builds} == {"Uses", "Alone"}
