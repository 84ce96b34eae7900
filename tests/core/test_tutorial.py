"""The tutorials (docs/tutorial/es and en) as a student follows them: every ```netlang block
compiles cleanly, both languages give the same commands, and every command runs, in order, from a
fresh folder holding examples/ as a clone has it (training cut to one epoch; `serve` is parsed,
not started; the commands on notMNIST, which the examples download, run only where ../shared/data
has a copy to put in its place; sweeps cut to their first two values)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from netlang.cli import main
from netlang.diagnostics.source import SourceFile
from netlang.semantics.program import compile_source
from tests.clone import copy_examples

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "tutorial"
DATA = REPO.parent / "shared" / "data"


def chapters(language: str) -> list[Path]:
    """The numbered chapters (`01-....md`), in order; each language names them in its own words."""
    return sorted((TUTORIAL / language).glob("[0-9][0-9]-*.md"))


def blocks(language: str, kind: str, pages: list[Path] | None = None) -> list[str]:
    return [
        block
        for page in (chapters(language) if pages is None else pages)
        for block in re.findall(rf"```{kind}\n(.*?)```", page.read_text(), flags=re.S)
    ]


def commands(language: str, pages: list[Path] | None = None) -> list[str]:
    return [
        line[2:].strip()
        for block in blocks(language, "console", pages)
        for line in block.splitlines()
        if line.startswith("$ ")
    ]


EXAMPLES = blocks("es", "netlang") + blocks("en", "netlang")


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"block{i}" for i in range(len(EXAMPLES))])
def test_tutorial_netlang_block_compiles_cleanly(example: str) -> None:
    program, diagnostics, _ = compile_source(SourceFile("tutorial.net", example))
    assert program is not None, diagnostics
    assert program.check() == []


def test_both_languages_have_the_same_chapters_and_commands() -> None:
    spanish, english = chapters("es"), chapters("en")
    assert [p.name[:3] for p in spanish] == [p.name[:3] for p in english]
    assert len(spanish) >= 7
    for es, en in zip(spanish, english):
        assert commands("es", [es]) == commands("en", [en]), (es.name, en.name)
    assert len(commands("es")) >= 15


def test_each_language_has_an_index_linking_its_chapters() -> None:
    for language in ("es", "en"):
        index = (TUTORIAL / language / "README.md").read_text()
        for page in chapters(language):
            assert f"]({page.name})" in index, (language, page.name)


def test_readme_links_both_tutorials() -> None:
    readme = (REPO / "README.md").read_text()
    assert "docs/tutorial/es/" in readme and "docs/tutorial/en/" in readme


def test_every_picture_a_chapter_shows_is_in_the_repository() -> None:
    for language in ("es", "en"):
        for page in [*chapters(language), TUTORIAL / language / "README.md"]:
            for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
                assert (page.parent / target).is_file(), (page.name, target)


@pytest.mark.slow
def test_every_tutorial_command_runs_in_order(tmp_path: Path, monkeypatch) -> None:
    examples = copy_examples(tmp_path / "examples")
    if DATA.is_dir():  # notMNIST where examples/course/transfer.net's download leaves it
        shutil.copytree(DATA / "notmnist", examples / "data" / "notmnist")
    monkeypatch.chdir(tmp_path)
    skipped: list[str] = []  # run directories of skipped commands: what reads them is skipped too
    for command in commands("es"):
        args = shlex.split(command)
        assert args[0] == "netlang", command
        args = args[1:]
        reads_skipped = any(a.startswith(out) for a in args for out in skipped)
        if ("transfer.net" in command and not DATA.is_dir()) or reads_skipped:
            if "--out" in args:
                skipped.append(args[args.index("--out") + 1])
            continue
        if args[0] == "train":
            args += ["--epochs", "1", "--no-tensorboard"]
            if "--sweep" in args:  # two values show the sweep; the tutorial's seeds add only time
                at = args.index("--sweep") + 1
                key, _, values = args[at].partition("=")
                args[at] = f"{key}={','.join(values.split(',')[:2])}"
        if args[0] == "serve":
            main.get_command(None, "serve").make_context("serve", args[1:])  # type: ignore[union-attr]
            continue
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (command, result.output)
