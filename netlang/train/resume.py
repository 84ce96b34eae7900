"""Saving and resuming a run: the checkpoint set after every epoch, Ctrl-C, and --resume."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlang.train import checkpoint as ckpt
from netlang.train.report import write_metrics
from netlang.train.stages import enter_stage
from netlang.train.state import Log, RunState

if TYPE_CHECKING:
    from netlang.data import DataSplits


def restore(run: RunState, run_dir: Path, log: Log, splits: DataSplits) -> None:
    """Load the checkpoint; rank 0 reads it and sends it to the others (no shared disk needed)."""
    folder = run_dir / "checkpoints"
    saved = ckpt.read_checkpoint(folder) if run.world.is_main else None
    last, state, best = run.world.broadcast(saved)
    _check_same_model(run.module.state_dict(), last)
    run.module.load_state_dict(last)
    state = run.world.adopt_state(state, run.config.seed)
    if run.plan is not None:  # the saved optimiser state belongs to the saved stage's groups
        enter_stage(run, splits, state["stage"], state["stage_start"])
    run.load_state_dict(state)
    run.best, run.best_sha256 = best, state["best_sha256"]
    where = f"epoch {run.epoch + 1}" + (f", batch {run.batch + 1}" if run.batch else "")
    log(f"resuming {run_dir} at {where}")


def _check_same_model(now: dict[str, Any], saved: dict[str, Any]) -> None:
    """The model must be the one the run trained: an edited file or another `--set` is said so,
    naming what differs, before torch's load_state_dict would refuse it with an error dump."""
    new = [k for k in now if k not in saved]
    gone = [k for k in saved if k not in now]
    reshaped = [k for k in now if k in saved and now[k].shape != saved[k].shape]
    differences = [
        *([f"new {_some(new)}"] if new else []),
        *([f"gone {_some(gone)}"] if gone else []),
        *(f"{k} is {list(now[k].shape)}, was {list(saved[k].shape)}" for k in reshaped[:3]),
    ]
    if differences:
        raise ValueError(
            f"cannot resume: the model is not the one the run trained ({'; '.join(differences)}); "
            "resume with the file and --set values it was started with, or start a new run "
            "with another --out"
        )


def _some(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[threading.Event]:
    """The first Ctrl-C only sets an event, so that the loop stops between two batches and saves a
    consistent checkpoint; a second Ctrl-C interrupts at once."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        requested.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


def save_checkpoint(run: RunState, run_dir: Path) -> None:
    """The resume state (gathered from every rank) with the last weights in it, a new best, and
    the metrics; rank 0 writes them (`checkpoint.write_checkpoint`), termination signals held."""
    state = run.world.checkpoint_state(run.state_dict())
    new_best, run.best_unsaved = (run.best if run.best_unsaved else None), False
    if not run.world.is_main:
        return
    with ckpt.signals_held():
        last = ckpt.snapshot(run.module)
        folder = run_dir / "checkpoints"
        run.best_sha256 = ckpt.write_checkpoint(folder, state, last, new_best, run.best_sha256)
        write_metrics(run_dir, run.history)


def save_interrupted(run: RunState, run_dir: Path, log: Log) -> None:
    """Ctrl-C: save where the run stands, unless a step was cut in half (then keep the last)."""
    if run.in_step:
        log(f"\ninterrupted in the middle of a step; the last checkpoint in {run_dir} is kept")
        return
    run.flush()
    save_checkpoint(run, run_dir)
    log(
        f"\ninterrupted in epoch {run.epoch + 1} after batch {run.batch}; checkpoint saved to "
        f"{run_dir / 'checkpoints'}; continue with --resume --out {run_dir}"
    )
