"""`netlang train FILE`: compile a model, train it as its `train` section says (CLI options win),
and leave a run directory; exit 0 done, 1 error, 130 interrupted (resumable)."""

from __future__ import annotations

import sys

import click

from netlang.commands.common import fail


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "-m", help="Model to train (default: the one with a train section).")
@click.option("--epochs", type=click.IntRange(min=1), help="Override the section's epochs.")
@click.option("--batch", type=click.IntRange(min=1), help="Override the batch size.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Override the optimizer's learning rate.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where to train (default: the section's, else auto).")
@click.option("--amp/--no-amp", default=None,
              help="Mixed precision (float16 on CUDA, bfloat16 on CPU).")
@click.option("--seed", type=int, help="Seed for weights, split, shuffling and dropout.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Run directory (default: runs/<model>-<timestamp>).")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out (default: the newest runs/<model>-*).")
def train(file: str, model: str | None, epochs: int | None, batch: int | None, lr: float | None,
          device: str | None, amp: bool | None, seed: int | None, out: str | None,
          resume: bool) -> None:
    """Train a model of FILE and write checkpoints, metrics, curves and a test report."""
    from netlang.diagnostics import CompileError
    from netlang.train.loop import NonFiniteLoss
    from netlang.train.run import train_file

    overrides = {"epochs": epochs, "batch": batch, "lr": lr, "device": device, "amp": amp,
                 "seed": seed, "out": out}
    try:
        result = train_file(file, model, overrides, resume=resume, log=click.echo)
    except CompileError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    except (ValueError, NonFiniteLoss) as error:
        fail(str(error))
    if result.stop_reason == "interrupted":
        sys.exit(130)
    click.echo(f"run directory: {result.run_dir}")
