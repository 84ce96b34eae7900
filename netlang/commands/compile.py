"""`netlang compile FILE -o model.onnx`: ONNX straight from the IR, with fresh or given weights."""

from __future__ import annotations

import sys

import click

from netlang.commands.common import (
    FOLD_BN_OPTION,
    FP16_OPTION,
    SET_OPTION,
    fail,
    model_option,
    parse_settings,
)


@click.command("compile")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@model_option("compile")
@SET_OPTION
@click.option(
    "--weights",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="A safetensors file with the weights (default: random initialisation).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the random initialisation."
)
@FOLD_BN_OPTION
@FP16_OPTION
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .onnx file."
)
def compile_command(
    file: str,
    model: str | None,
    settings: tuple[str, ...],
    weights: str | None,
    seed: int,
    fold_bn: bool,
    fp16: bool,
    output: str,
) -> None:
    """Compile a model of FILE to ONNX (no PyTorch involved)."""
    from netlang.backends.weights import plan_weights
    from netlang.diagnostics import CompileError
    from netlang.export.ship import ExportError, Trained, build, read_weights, write_onnx
    from netlang.semantics.program import read_source

    try:
        source = read_source(file)
        graph = build(source, model, parse_settings(settings))
    except CompileError as exc:  # rendered as `check` renders it
        click.echo(str(exc), err=True)
        sys.exit(1)
    try:
        values = read_weights(weights) if weights else plan_weights(graph, seed)
        path = write_onnx(Trained(source, graph, values), output, fold_bn=fold_bn, fp16=fp16)
    except (ExportError, ValueError) as exc:
        fail(str(exc))
    click.echo(f"wrote {path} ({graph.name}, {graph.param_count:,} parameters)")
