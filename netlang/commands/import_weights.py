"""`netlang import-weights FILE.pth --into stdlib:resnet50 -o out.safetensors`: a PyTorch state_dict
-> checked netlang weights (safetensors), ready for export or fine-tuning."""

from __future__ import annotations

import sys

import click

from netlang.commands.common import SET_OPTION, fail, parse_settings, report


@click.command("import-weights")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option(
    "--into",
    "target",
    required=True,
    metavar="TARGET",
    help="The model: stdlib:NAME (e.g. stdlib:resnet50) or FILE.net[:Model].",
)
@SET_OPTION
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the weights (.safetensors).",
)
def import_weights(checkpoint: str, target: str, settings: tuple[str, ...], output: str) -> None:
    """Check a .pth state_dict key by key against a model; write it as safetensors if it fits.

    Every missing, unexpected or mis-shaped key is listed by name (exit status 1).
    """
    from netlang.diagnostics import CompileError
    from netlang.export.weights_import import (
        ImportProblem,
        fit_weights,
        read_state_dict,
        resolve_target,
        save_checkpoint,
    )

    try:
        program, model = resolve_target(target)
    except ImportProblem as problem:
        fail(str(problem), 2)
    except CompileError as exc:
        report(exc.diagnostics, exc.sources)
        sys.exit(1)
    graph, diagnostics = program.build(model, parse_settings(settings))
    if report(diagnostics, program.sources) or graph is None:
        sys.exit(1)
    try:
        state = read_state_dict(checkpoint)
    except ImportProblem as problem:
        fail(str(problem), 2)
    weights, fit = fit_weights(graph, state)
    if not fit.ok:
        for line in fit.lines():
            click.echo(line, err=True)
        fail(f"{checkpoint} does not fit {graph.name} ({len(fit.lines())} problems)")
    save_checkpoint(output, weights, graph, program)
    count = sum(int(w.numel()) for name, w in weights.items() if name in graph.parameters())
    click.echo(f"{output}: {graph.name}, {len(weights)} tensors, {count:,} parameters")
