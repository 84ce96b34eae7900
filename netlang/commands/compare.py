"""`netlang compare RUN...`: several runs (or a sweep's parent) in one picture and one table."""

from __future__ import annotations

import json
from pathlib import Path

import click

from netlang.commands.common import JSON_OPTION, fail


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("compare.png"),
    show_default=True,
    help="The picture to write.",
)
@click.option("--log", "log_scale", is_flag=True, help="Draw the loss on a log scale.")
@JSON_OPTION
def compare(runs: tuple[str, ...], output: Path, log_scale: bool, as_json: bool) -> None:
    """Overlay the loss and metric curves of several runs and tabulate their figures."""
    from netlang.train.compare import compare as compare_runs
    from netlang.train.compare import format_table

    try:
        _, rows = compare_runs([Path(r) for r in runs], output, log_scale=log_scale)
    except ValueError as error:
        fail(str(error))
    click.echo(json.dumps(rows, indent=2) if as_json else format_table(rows), nl=not as_json)
    if not as_json:
        click.echo(f"picture: {output}")
