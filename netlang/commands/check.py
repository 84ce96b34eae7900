"""`netlang check FILE...`: compile every model, run its tests; exit 0 clean, 1 errors, 2 usage."""

from __future__ import annotations

import sys

import click

from netlang.commands.common import JSON_OPTION, QUIET_OPTION, load_program, report


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@JSON_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default=None,
    hidden=True,
    help="Deprecated spelling of --json.",
)
@QUIET_OPTION
def check(files: tuple[str, ...], as_json: bool, fmt: str | None, quiet: bool) -> None:
    """Check FILES: syntax, names, shapes, train sections and `test` blocks."""
    if fmt is not None:
        click.echo("warning: --format is deprecated; use --json", err=True)
        as_json = fmt == "json"
    failed = False
    for path in files:
        program, diagnostics, sources = load_program(path)
        if program is not None:
            diagnostics = program.check()
        has_errors = report(diagnostics, sources, as_json=as_json)
        failed |= has_errors
        if not has_errors and not quiet and not as_json:
            names = program.models + program.imported_trained if program else []
            models = ", ".join(names) if names else "no models"
            click.echo(f"{path}: ok ({models})")
    sys.exit(1 if failed else 0)
