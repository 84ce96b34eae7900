"""The `netlang` command line: a thin click group. Each command lives in its own module, imported
only when it runs, so `netlang --help`, `check` and `summary` never import torch or onnxruntime."""

from __future__ import annotations

import importlib
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


class LazyGroup(click.Group):
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
