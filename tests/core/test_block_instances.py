"""Kept block instances (semantics/instances.py): a repeated instance is copied, and every graph
and diagnostic equals that of elaborating each instance."""

from __future__ import annotations

from pathlib import Path

import pytest

import netlang
from netlang.diagnostics import CompileError
from netlang.semantics import calls
from netlang.semantics.instances import freeze

ROOT = Path(__file__).resolve().parents[2]

REPEATED = """
block Unit(width: int, stride: int = 1)(x) {
    y = x -> a: linear(width) -> relu -> b: { linear(width) -> relu }
    return y + x
}
block Stage(width: int, count: int)(x) {
    for i in range(count) { x = x -> Unit(width) }
    return x
}
model M { input x: float32[N, 8]
    y = x -> s1: Stage(8, 3) -> s2: Stage(8, 2) -> Unit(8, 2)
    output y }
"""

# `X` kept at the top reaches `D`; copying it inside `D` would hide that `D` uses itself.
RECURSIVE = """
block D(n: int)(x) {
    if n > 0 { x = x -> X() }
    return x -> linear(4)
}
block X(k: int = 0)(x) {
    return x -> D(k)
}
model M { input x: float32[N, 4]
    y = x -> X() -> D(1)
    output y }
"""

UNUSED = """
block B(w: int)(x) {
    unused = x -> linear(w)
    return x -> linear(w)
}
model M { input x: float32[N, 4]
    y = x -> B(4) -> B(4) -> B(4)
    output y }
"""


def check(source: str | Path) -> tuple[dict[str, netlang.ir.Graph], list[object]]:  # type: ignore[name-defined]
    try:
        program = netlang.load(source)
    except CompileError as exc:  # a file that does not load (goldens) elaborates nothing
        return {}, exc.diagnostics
    graphs: dict[str, netlang.ir.Graph] = {}  # type: ignore[name-defined]
    return graphs, program.check(graphs)


def check_without_reuse(
    source: str | Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, object], list[object]]:
    with monkeypatch.context() as patch:
        patch.setattr(calls, "instance_key", lambda *_: None)
        return check(source)


@pytest.mark.parametrize("source", [REPEATED, RECURSIVE, UNUSED], ids=["repeated", "rec", "warn"])
def test_graphs_and_diagnostics_equal_those_of_elaborating_every_instance(
    source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert check(source) == check_without_reuse(source, monkeypatch)


def test_a_block_reached_through_a_kept_instance_still_reports_the_recursion() -> None:
    _, diagnostics = check(RECURSIVE)
    assert [d.code for d in diagnostics] == ["NL2010"]  # type: ignore[attr-defined]


def test_an_instance_that_warned_is_elaborated_again_so_each_warning_stays() -> None:
    _, diagnostics = check(UNUSED)
    assert [d.code for d in diagnostics] == ["NL2013"]  # type: ignore[attr-defined]


def test_a_repeated_instance_is_copied_under_its_own_names() -> None:
    program = netlang.load(REPEATED)
    graph = program.model("M")
    assert len(program.instances) == 4  # Unit(8), Stage(8, 3), Stage(8, 2), Unit(8, 2)
    assert [n.name for n in graph.nodes if n.name.startswith("s1.2")] == [
        "s1.2.a",
        "s1.2.1",
        "s1.2.b.0",
        "s1.2.b.1",
        "s1.2.3",
    ]
    assert graph.nodes[5].inputs == ("s1.0.3",)  # the copy reads the first instance's output
    assert {"s2.1", "s2.1.b"} <= set(graph.scopes)


def test_arguments_of_different_types_are_different_instances() -> None:
    assert len({freeze(1), freeze(1.0), freeze(True)}) == 3
    assert freeze([1, [2, 3]]) == freeze([1, [2, 3]]) != freeze((1, [2, 3]))
    assert freeze(object()) is None


@pytest.mark.parametrize("path", sorted((ROOT / "stdlib").glob("resnet*.net")), ids=str)
def test_stdlib_resnets_are_the_same_with_and_without_kept_instances(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = path.read_text()
    assert check(source) == check_without_reuse(source, monkeypatch)


@pytest.mark.slow
def test_every_repository_model_and_golden_is_the_same_with_and_without_kept_instances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folders = ("stdlib", "examples", "tests/golden")
    paths = sorted(p for f in folders for p in (ROOT / f).rglob("*.net"))
    assert len(paths) > 100
    for path in paths:
        assert check(path) == check_without_reuse(path, monkeypatch), path
