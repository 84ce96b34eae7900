"""`netlang train FILE`: compile a model, train it as its `train` section says (CLI options win),
and leave a run directory; exit 0 done, 1 error, 130 interrupted (resumable). `--nproc N` runs N
data-parallel workers on this host through torchrun's launcher; under torchrun itself (multi-node),
each worker is a plain `python -m netlang train FILE`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from netlang.commands.common import QUIET_OPTION, VERBOSE_OPTION, fail, model_option


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@model_option("train")
@click.option("--epochs", type=click.IntRange(min=1), help="Override the section's epochs.")
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    help="Override the batch size (the global batch, split across --nproc workers).",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    help="Override the optimizer's learning rate.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    help="Where to train (default: the section's, else auto).",
)
@click.option(
    "--amp/--no-amp", default=None, help="Mixed precision (float16 on CUDA, bfloat16 on CPU)."
)
@click.option("--seed", type=int, help="Seed for weights, split, shuffling and dropout.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run directory (default: runs/<model>-<timestamp>).",
)
@click.option(
    "--resume", is_flag=True, help="Continue the run in --out (default: the newest runs/<model>-*)."
)
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Data-parallel worker processes on this host (one per GPU on CUDA).",
)
@QUIET_OPTION
@VERBOSE_OPTION
def train(
    file: str,
    model: str | None,
    epochs: int | None,
    batch: int | None,
    lr: float | None,
    device: str | None,
    amp: bool | None,
    seed: int | None,
    out: str | None,
    resume: bool,
    nproc: int,
    quiet: bool,
    verbose: bool,
) -> None:
    """Train a model of FILE and write checkpoints, metrics, curves and a test report."""
    # Idle OpenMP threads must sleep, not spin: on a shared or busy host spinning threads made
    # small models' steps up to 100x slower. Set before torch is imported; a user's value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from netlang.diagnostics import CompileError
    from netlang.train.distributed import WorkerFailed
    from netlang.train.loop import NonFiniteLoss
    from netlang.train.run import train_file

    overrides = {
        "epochs": epochs,
        "batch": batch,
        "lr": lr,
        "device": device,
        "amp": amp,
        "seed": seed,
        "out": out,
    }
    try:
        if nproc > 1:
            _launch(file, model, overrides, resume, nproc, quiet, verbose)
            return
        result = train_file(
            file, model, overrides, resume=resume, log=click.echo, quiet=quiet, verbose=verbose
        )
    except CompileError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    except (ValueError, NonFiniteLoss, WorkerFailed) as error:
        fail(str(error))
    except KeyboardInterrupt:
        sys.exit(130)
    if result.stop_reason == "interrupted":
        sys.exit(130)
    if os.environ.get("RANK", "0") == "0":
        click.echo(f"run directory: {result.run_dir}")


def _launch(
    file: str,
    model: str | None,
    overrides: dict[str, Any],
    resume: bool,
    nproc: int,
    quiet: bool,
    verbose: bool,
) -> None:
    """Start `nproc` workers running this command without --nproc, all writing to one run
    directory (named here, so that a failure message can say where to resume); rank 0 prints."""
    from netlang.train.distributed import launch
    from netlang.train.run import planned_run_dir

    if "WORLD_SIZE" in os.environ:
        raise ValueError("--nproc starts its own workers; under torchrun, leave it out")
    run_dir = str(planned_run_dir(file, model, overrides, resume))
    args = ["train", file, "--out", run_dir, *(["--model", model] if model else [])]
    for name, value in overrides.items():
        if name == "amp" and value is not None:
            args.append("--amp" if value else "--no-amp")
        elif value is not None and name != "out":
            args += [f"--{name}", str(value)]
    args += ["--resume"] if resume else []
    args += ["--quiet"] if quiet else []
    args += ["--verbose"] if verbose else []
    launch(
        args,
        nproc,
        run_dir,
        resume_hint=f"netlang train {file} --nproc {nproc} --resume --out {run_dir}",
    )
