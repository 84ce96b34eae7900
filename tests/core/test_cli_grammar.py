"""One CLI grammar: an option is spelt the same on every command that takes it, the top-level
help shows every command's first line whole, and colour follows NO_COLOR / FORCE_COLOR."""

from __future__ import annotations

import io

import click
import pytest
from click.testing import CliRunner

from netlang.cli import COMMANDS, main
from netlang.commands.common import SHARED_OPTIONS
from netlang.diagnostics.render import use_color


def commands() -> dict[str, click.Command]:
    context = click.Context(main)
    return {name: main.get_command(context, name) for name in COMMANDS}  # type: ignore[misc]


def options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_shared_option_has_its_one_spelling(name: str) -> None:
    for option in options(commands()[name]):
        spellings = tuple(option.opts)
        for spelling in spellings:
            if spelling in SHARED_OPTIONS:
                assert set(spellings) == set(SHARED_OPTIONS[spelling]), (name, spellings)
        short = [s for s in spellings if not s.startswith("--")]
        for letter in short:  # a short flag means one thing everywhere
            owners = [k for k, v in SHARED_OPTIONS.items() if letter in v]
            assert owners and owners[0] in spellings, (name, letter)


def test_the_commands_that_need_them_take_the_shared_options() -> None:
    expected = {
        "check": {"--json", "--quiet"},
        "summary": {"--model", "--set", "--json"},
        "compile": {"--model", "--set", "--output"},
        "predict": {"--json"},
        "train": {"--model", "--quiet", "--verbose"},
        "serve": {"--quiet", "--verbose"},
        "fmt": {"--quiet"},
    }
    for name, wanted in expected.items():
        longs = {s for o in options(commands()[name]) for s in o.opts if s.startswith("--")}
        assert wanted <= longs, (name, wanted - longs)


def test_version_has_a_short_flag() -> None:
    result = CliRunner().invoke(main, ["-V"])
    assert result.exit_code == 0 and "version" in result.output


def test_top_level_help_shows_each_commands_first_line_whole() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=200)
    listing = " ".join(result.output.split("Commands:")[1].split())
    for name, command in commands().items():
        first = " ".join(command.help.split("\n\n")[0].split())  # type: ignore[union-attr]
        assert f"{name} {first}" in listing, name
    assert "..." not in listing


def test_check_json_and_its_deprecated_format_spelling(tmp_path) -> None:
    path = tmp_path / "bad.net"
    path.write_text("model M {\n    input x: float32[N, 4]\n    output y\n}\n")
    result = CliRunner().invoke(main, ["check", "--json", str(path)])
    assert result.exit_code == 1 and '"code"' in result.output
    result = CliRunner().invoke(main, ["check", "--format", "json", str(path)])
    assert result.exit_code == 1 and '"code"' in result.output and "deprecated" in result.output


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("environment", "tty", "colour"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": ""}, True, True),  # an empty value counts as unset (no-color.org)
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),
    ],
)
def test_colour_follows_no_color_and_force_color(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], tty: bool, colour: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert use_color(_Tty() if tty else io.StringIO()) is colour
