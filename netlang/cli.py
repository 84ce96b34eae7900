"""The `netlang` command line: a thin click group. Each command lives in its own module, imported
only when it runs, so `netlang --help`, `check` and `summary` never import torch or onnxruntime."""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

# command name -> "module:attribute" of its click.Command
COMMANDS: dict[str, str] = {
    "check": "netlang.commands.check:check",
    "summary": "netlang.commands.summary:summary",
    "graph": "netlang.commands.graph:graph",
    "lsp": "netlang.commands.lsp:lsp",
    "explain": "netlang.commands.explain:explain",
    "fmt": "netlang.commands.fmt:fmt",
    "compile": "netlang.commands.compile:compile_command",
    "export": "netlang.commands.export:export",
    "predict": "netlang.commands.predict:predict",
    "serve": "netlang.commands.serve:serve",
    "train": "netlang.commands.train:train",
    "compare": "netlang.commands.compare:compare",
    "import-weights": "netlang.commands.import_weights:import_weights",
}


# Where a crash should be reported: the project's issue tracker (README, "Reporting a bug").
REPORT_TO = "the netlang issue tracker (see README, 'Reporting a bug')"


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        """The last line of defence: an exception no command expected is a compiler bug, said
        in one line (NETLANG_TRACEBACK=1 shows the traceback), never a traceback for the user."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as bug:  # noqa: BLE001 - exactly what this is for
            if os.environ.get("NETLANG_TRACEBACK"):
                raise
            command = ctx.invoked_subcommand or "netlang"
            first_line = (str(bug).splitlines() or [""])[0][:200]
            click.echo(
                f"netlang {command}: internal error {type(bug).__name__}: {first_line} -- a bug "
                f"in netlang, not in your input; please report it to {REPORT_TO} with the "
                "command and the file (NETLANG_TRACEBACK=1 prints the traceback)",
                err=True,
            )
            ctx.exit(70)  # EX_SOFTWARE

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        command: Any = getattr(importlib.import_module(module), attribute)
        if command.short_help is None and command.help:  # click would cut it at ~45 characters
            command.short_help = command.help.split("\n\n")[0].replace("\n", " ").strip()
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(None, "-V", "--version", package_name="netlang")
def main() -> None:
    """netlang: write a neural network down, check its shapes, train it, ship it as ONNX."""


if __name__ == "__main__":
    main()
