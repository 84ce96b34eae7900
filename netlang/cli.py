"""The `netlang` command line: a thin click group. Each command lives in its own module, imported
only when it runs, so `netlang --help`, `check` and `summary` never import torch or onnxruntime."""

from __future__ import annotations

import atexit
import errno
import gc
import importlib
import os
import sys
import threading
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


# Commands whose process may end without the interpreter's teardown once they are done: their
# files are written, closed and renamed before they return, and they start no threads that
# outlive them. Tearing down the modules they import (numpy, onnx, lark, the compiler) costs a
# process 40-60 ms on this project's host, a sixth of writing VGG-16's weights.
QUICK_EXIT = frozenset({"check", "summary", "explain", "compile", "export"})

# The cycle collector's thresholds while a QUICK_EXIT command runs as a program. What such a
# process allocates (the imported modules, the grammar, the AST and IR) lives until it ends, yet
# at Python's defaults (700, 10, 10) the collector scans it ~120 times: 35-80 ms of VGG-16's
# `netlang compile` on this project's host. mypy's main raises them the same way.
RARE_COLLECTIONS = (200_000, 30, 30)

# Errors of the machine, not of netlang or the input: a full disk or quota, a read-only or
# forbidden path, a failing device. Said as what they are (EX_IOERR), never as a bug to report.
MACHINE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
)

# Where a crash should be reported: the project's issue tracker (README, "Reporting a bug").
REPORT_TO = "the netlang issue tracker (see README, 'Reporting a bug')"


class LazyGroup(click.Group):
    invoked: str | None = None  # the command this process ran (for `run`)
    program = False  # running as the `netlang` program (`run`), not called in a process

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
            if isinstance(bug, OSError) and bug.errno in MACHINE_ERRNOS:
                where = f": {bug.filename}" if bug.filename else ""
                click.echo(f"netlang {command}: {bug.strerror}{where}", err=True)
                ctx.exit(74)  # EX_IOERR
            first_line = (str(bug).splitlines() or [""])[0][:200]
            click.echo(
                f"netlang {command}: internal error {type(bug).__name__}: {first_line} -- a bug "
                f"in netlang, not in your input; please report it to {REPORT_TO} with the "
                "command and the file (NETLANG_TRACEBACK=1 prints the traceback)",
                err=True,
            )
            ctx.exit(70)  # EX_SOFTWARE

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        LazyGroup.invoked = name
        if LazyGroup.program and name in QUICK_EXIT:
            gc.set_threshold(*RARE_COLLECTIONS)
        return name, command, rest

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


def run() -> None:
    """The `netlang` program (console script and `python -m netlang`). A QUICK_EXIT command's
    process collects cycles rarely (RARE_COLLECTIONS) and ends as Python's own exit would, less
    the teardown: atexit handlers run, output is flushed, then `os._exit` with the command's
    status. Anything else (another command, a thread still running, a status that is not a
    number) exits the ordinary way."""
    code: object = 0
    LazyGroup.program = True
    try:
        main(prog_name="netlang")
    except SystemExit as done:
        code = 0 if done.code is None else done.code
    if not _may_exit_quickly(code):
        sys.exit(code)
    atexit._run_exitfuncs()  # what Python's exit would run next (coverage, weakref finalizers)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own exit says 120
            code = code or 120
    os._exit(code)  # type: ignore[arg-type]  # an int: _may_exit_quickly checked it


def _may_exit_quickly(code: object) -> bool:
    return LazyGroup.invoked in QUICK_EXIT and threading.active_count() == 1 and type(code) is int


if __name__ == "__main__":
    run()
