"""`netlang graph FILE -o net.svg`: the network as a picture, shapes on the edges."""

from __future__ import annotations

from pathlib import Path

import click

from netlang.commands.common import (
    SET_OPTION,
    build_model,
    fail,
    model_option,
)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@model_option("draw")
@SET_OPTION
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The picture: .svg, .png, .pdf (laid out by Graphviz) or .dot.",
)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    default=None,
    help="Draw blocks nested deeper than this as one box each (default: all open).",
)
def graph(
    file: str, model: str | None, settings: tuple[str, ...], output: Path, depth: int | None
) -> None:
    """Draw a model: layers with their arguments and parameters, shapes on the edges."""
    from netlang.draw.dot import to_dot
    from netlang.draw.render import RenderError, write_picture

    built = build_model(file, model, settings)
    try:
        path = write_picture(to_dot(built, depth), output)
    except ValueError as exc:
        fail(str(exc), 2)
    except RenderError as exc:
        fail(str(exc))
    click.echo(f"wrote {path} ({built.name}, {len(built.nodes)} layers)")
