"""The tutorials (docs/tutorial/es and en) as a student follows them: every ```netlang block
compiles cleanly, both languages give the same commands, and every command runs, in order, from a
fresh folder (training cut to one epoch; `serve` is parsed, not started; commands on the course's
external data run only where ../shared/data is)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from netlang.cli import main
from netlang.diagnostics.source import SourceFile
from netlang.semantics.program import compile_source

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "tutorial"
DATA = REPO.parent / "shared" / "data"


def chapters(language: str) -> list[Path]:
    return sorted((TUTORIAL / language).glob("*.md"))


def blocks(language: str, kind: str) -> list[str]:
    return [
        block
        for page in chapters(language)
        for block in re.findall(rf"```{kind}\n(.*?)```", page.read_text(), flags=re.S)
    ]


def commands(language: str) -> list[str]:
    return [
        line[2:].strip()
        for block in blocks(language, "console")
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
    assert len(chapters("es")) == len(chapters("en")) >= 7
    assert commands("es") == commands("en")
    assert len(commands("es")) >= 15


def test_readme_links_both_tutorials() -> None:
    readme = (REPO / "README.md").read_text()
    assert "docs/tutorial/es/" in readme and "docs/tutorial/en/" in readme


def test_every_picture_a_chapter_shows_is_in_the_repository() -> None:
    for language in ("es", "en"):
        for page in chapters(language):
            for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
                assert (page.parent / target).is_file(), (page.name, target)


@pytest.mark.slow
def test_every_tutorial_command_runs_in_order(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    for command in commands("es"):
        args = shlex.split(command)
        assert args[0] == "netlang", command
        args = args[1:]
        if "transfer.net" in command and not DATA.is_dir():
            continue
        if args[0] == "train":
            args += ["--epochs", "1", "--no-tensorboard"]
        if args[0] == "serve":
            main.get_command(None, "serve").make_context("serve", args[1:])  # type: ignore[union-attr]
            continue
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (command, result.output)
