"""`netlang export RUN_DIR|CHECKPOINT -o model.onnx`: a trained model as ONNX (or a Triton
repository)."""

from __future__ import annotations

import click

from netlang.commands.common import FOLD_BN_OPTION, FP16_OPTION, fail


@click.command()
@click.argument("run", type=click.Path(exists=True))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="The .onnx file (default: RUN/model.onnx).",
)
@click.option(
    "--checkpoint",
    type=click.Choice(["best", "last"]),
    default=None,
    help="Which checkpoint of a run directory (default: the one its test.json scored).",
)
@FOLD_BN_OPTION
@FP16_OPTION
@click.option(
    "--triton",
    "triton_repo",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write a Triton model repository here (REPO/NAME/config.pbtxt, 1/model.onnx).",
)
@click.option(
    "--name", default=None, help="Model name in the Triton repository (default: the model's)."
)
@click.option(
    "--max-batch-size",
    type=int,
    default=8,
    show_default=True,
    help="Triton max_batch_size (0: no batching).",
)
@click.option(
    "--instance-kind",
    type=click.Choice(["gpu", "cpu"]),
    default="gpu",
    show_default=True,
    help="Triton instance_group kind.",
)
def export(
    run: str,
    output: str | None,
    checkpoint: str | None,
    fold_bn: bool,
    fp16: bool,
    triton_repo: str | None,
    name: str | None,
    max_batch_size: int,
    instance_kind: str,
) -> None:
    """Export a trained RUN directory (or checkpoint) to ONNX with its classes and preprocessing."""
    from pathlib import Path

    from netlang.backends.onnx_write import write_onnx
    from netlang.export.ship import ExportError, emit_trained, load_trained

    try:
        trained = load_trained(run, checkpoint=checkpoint)
        emitted = emit_trained(trained, fold_bn=fold_bn, fp16=fp16)
        model_name = name or trained.graph.name.lower()
        if triton_repo:  # every Triton setting is checked before anything is written
            from netlang.serve.triton_repo import config_of_onnx

            config_of_onnx(emitted.model, model_name, max_batch_size, instance_kind)
    except (ExportError, ValueError) as exc:
        fail(str(exc))
    target = (
        Path(output)
        if output
        else (Path(run) if Path(run).is_dir() else Path(run).parent) / "model.onnx"
    )
    path = write_onnx(emitted, target)
    click.echo(f"wrote {path} ({trained.graph.name}, {trained.graph.param_count:,} parameters)")
    if triton_repo:
        from netlang.serve.triton_repo import write_triton_repo

        try:
            model_dir = write_triton_repo(
                path, triton_repo, model_name, max_batch_size, instance_kind
            )
        except (ValueError, OSError) as exc:
            fail(f"wrote {path}, but not the Triton repository: {exc}")
        click.echo(f"wrote Triton model {model_dir}")
