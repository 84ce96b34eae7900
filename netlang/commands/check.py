"""`netlang check FILE...`: compile every model, run its tests; exit 0 clean, 1 errors, 2 usage."""

from __future__ import annotations

import sys

import click

from netlang.commands.common import load_program, report


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    help="How diagnostics are printed.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when a file is clean.")
def check(files: tuple[str, ...], fmt: str, quiet: bool) -> None:
    """Check FILES: syntax, names, shapes, train sections and `test` blocks."""
    failed = False
    for path in files:
        program, diagnostics, sources = load_program(path)
        if program is not None:
            diagnostics = program.check()
        has_errors = report(diagnostics, sources, as_json=fmt == "json")
        failed |= has_errors
        if not has_errors and not quiet and fmt == "text":
            models = ", ".join(program.models) if program and program.models else "no models"
            click.echo(f"{path}: ok ({models})")
    sys.exit(1 if failed else 0)
