"""`netlang explain NL3001`: the long explanation of a diagnostic code."""

from __future__ import annotations

import sys

import click

from netlang.diagnostics.codes import CODES


@click.command()
@click.argument("code")
def explain(code: str) -> None:
    """Explain diagnostic CODE (e.g. NL3003) with an example."""
    entry = CODES.get(code.upper())
    if entry is None:
        click.echo(f"error: unknown code {code}; codes are {min(CODES)}..{max(CODES)}", err=True)
        sys.exit(2)
    click.echo(f"{code.upper()}: {entry.title}\n\n{entry.explanation}")
