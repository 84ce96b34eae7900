"""`netlang summary FILE`: the per-layer shape, parameter and cost table, before any tensor
exists."""

from __future__ import annotations

import json

import click

from netlang.commands.common import (
    JSON_OPTION,
    SET_OPTION,
    build_model,
    model_option,
)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@model_option("summarise")
@SET_OPTION
@JSON_OPTION
def summary(file: str, model: str | None, settings: tuple[str, ...], as_json: bool) -> None:
    """Print layer names, ops, output shapes and parameter counts, then totals."""
    from netlang.ir.summary import format_summary, summarize

    graph = build_model(file, model, settings)
    result = summarize(graph)
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else format_summary(result))
