"""`netlang train FILE`: compile a model, train it as its `train` section says (CLI options win),
and leave a run directory; exit 0 done, 1 error, 130 interrupted (resumable). `--nproc N` runs N
data-parallel workers on this host through torchrun's launcher; under torchrun itself (multi-node),
each worker is a plain `python -m netlang train FILE`. `--set` changes a model argument or a train
setting; `--sweep` trains one run per value, each in its own folder under one parent."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from netlang.commands.common import (
    QUIET_OPTION,
    VERBOSE_OPTION,
    fail,
    model_option,
    setting_texts,
)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@model_option("train")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a model parameter or a train setting, e.g. --set p=0.2 --set "
    "'optimizer=sgd(lr=0.1)' (repeatable).",
)
@click.option(
    "--sweep",
    "sweeps",
    multiple=True,
    metavar="NAME=V1,V2,...",
    help="Train one run per value (the product of several --sweep), each in its own folder "
    "under --out (default: runs/<model>-sweep-<timestamp>).",
)
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
@click.option(
    "--channels-last/--no-channels-last",
    default=None,
    help="Train in the NHWC memory format (default: the section's channels_last, else off).",
)
@click.option(
    "--compile/--no-compile",
    "compile_",
    default=None,
    help="torch.compile the forward pass (default: the section's compile, else off).",
)
@click.option(
    "--seed", type=click.IntRange(min=0), help="Seed for weights, split, shuffling and dropout."
)
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
@click.option(
    "--tensorboard/--no-tensorboard",
    default=None,
    help="Write TensorBoard event files into the run directory (default: when tensorboard is "
    "installed).",
)
@click.option(
    "--mlflow",
    "mlflow_uri",
    metavar="URI",
    help="Also log the run to this MLflow tracking store (e.g. file:./mlruns).",
)
@QUIET_OPTION
@VERBOSE_OPTION
def train(
    file: str,
    model: str | None,
    settings: tuple[str, ...],
    sweeps: tuple[str, ...],
    epochs: int | None,
    batch: int | None,
    lr: float | None,
    device: str | None,
    amp: bool | None,
    channels_last: bool | None,
    compile_: bool | None,
    seed: int | None,
    out: str | None,
    resume: bool,
    nproc: int,
    tensorboard: bool | None,
    mlflow_uri: str | None,
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
        "channels_last": channels_last,
        "compile": compile_,
        "seed": seed,
        "out": out,
    }
    texts = setting_texts(settings)
    tracking = {"tensorboard": tensorboard, "mlflow": mlflow_uri}
    try:
        if sweeps:
            _sweep(file, model, texts, sweeps, overrides, tracking, resume, nproc, quiet, verbose)
            return
        if nproc > 1:
            _launch(file, model, overrides, resume, nproc, quiet, verbose, texts, tracking)
            return
        result = train_file(
            file,
            model,
            overrides,
            settings=texts,
            resume=resume,
            log=click.echo,
            quiet=quiet,
            verbose=verbose,
            tracking=tracking,
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
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        _leave_worker()


def _leave_worker() -> None:
    """A distributed worker whose run is complete (files closed, process group destroyed) ends
    without interpreter finalisation: gloo's background threads, torn down there, abort the
    process now and then ("terminate called without an active exception", SIGABRT), which
    the launcher reports as a failed job although every file was written."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _sweep(
    file: str,
    model: str | None,
    settings: dict[str, str],
    sweeps: tuple[str, ...],
    overrides: dict[str, Any],
    tracking: dict[str, Any],
    resume: bool,
    nproc: int,
    quiet: bool,
    verbose: bool,
) -> None:
    """Train each variant of the sweep into PARENT/<name>=<value>, then list them in
    PARENT/sweep.json (written after each run, so an interrupted sweep still compares)."""
    import time
    from pathlib import Path

    import netlang
    from netlang.train.run import train_file
    from netlang.train.sweep import variant_name, variants, write_sweep

    if resume:
        raise ValueError("--sweep cannot --resume; resume one variant's folder with --out")
    name = model or netlang.load(Path(file)).default_model()
    parent = Path(overrides["out"] or f"runs/{name}-sweep-{time.strftime('%Y%m%d-%H%M%S')}")
    done: list[tuple[dict[str, str], Path]] = []
    for variant in variants(sweeps):
        run_dir = parent / variant_name(variant)
        click.echo(f"sweep: {variant_name(variant)} -> {run_dir}")
        values = {**settings, **variant}
        if nproc > 1:
            _launch(
                file,
                model,
                {**overrides, "out": str(run_dir)},
                False,
                nproc,
                quiet,
                verbose,
                values,
                tracking,
            )
        else:
            train_file(
                file,
                model,
                {**overrides, "out": str(run_dir)},
                settings=values,
                log=click.echo,
                quiet=quiet,
                verbose=verbose,
                tracking=tracking,
            )
        done.append((variant, run_dir))
        write_sweep(parent, name, done)
    click.echo(f"sweep directory: {parent} (netlang compare {parent})")


def _launch(
    file: str,
    model: str | None,
    overrides: dict[str, Any],
    resume: bool,
    nproc: int,
    quiet: bool,
    verbose: bool,
    settings: dict[str, str],
    tracking: dict[str, Any],
) -> None:
    """Start `nproc` workers running this command without --nproc, all writing to one run
    directory (named here, so that a failure message can say where to resume); rank 0 prints."""
    from netlang.train.distributed import launch
    from netlang.train.run import planned_run_dir

    if "WORLD_SIZE" in os.environ:
        raise ValueError("--nproc starts its own workers; under torchrun, leave it out")
    run_dir = str(planned_run_dir(file, model, overrides, resume, settings))
    args = ["train", file, "--out", run_dir, *(["--model", model] if model else [])]
    for key, text in settings.items():
        args += ["--set", f"{key}={text}"]
    if tracking["tensorboard"] is not None:
        args.append("--tensorboard" if tracking["tensorboard"] else "--no-tensorboard")
    args += ["--mlflow", tracking["mlflow"]] if tracking["mlflow"] else []
    for name, value in overrides.items():
        flag = name.replace("_", "-")
        if isinstance(value, bool):
            args.append(f"--{flag}" if value else f"--no-{flag}")
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
