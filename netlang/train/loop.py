"""The training loop: module + DataSplits + TrainConfig -> trained weights and a run directory.

fit() reads as the run's outline; each step is a helper below. Bit-reproducible on CPU: the seed
fixes the global RNG that dropout draws from (saved in every checkpoint) and the loader's order
and augmentation (seeded per epoch), and deterministic kernels are on for the run's duration.
On several processes (a distributed World), each rank trains on its shard of every global batch
through DistributedDataParallel; rank 0 alone prints and writes the run directory.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import torch

from netlang.data.inputs import arguments
from netlang.train import checkpoint as ckpt
from netlang.train.config import TrainConfig
from netlang.train.distributed import World
from netlang.train.evaluate import MakeLoader, evaluate, first_output
from netlang.train.finish import finish_run, start_run_dir
from netlang.train.objective import penalty
from netlang.train.progress import Progress
from netlang.train.resume import deferred_interrupt, restore, save_checkpoint, save_interrupted
from netlang.train.stages import enter_stage, start_stages
from netlang.train.state import (
    Log,
    NonFiniteLoss,
    RunState,
    TrainResult,
    device_for,
    prepare,
    settle,
)
from netlang.train.tracking import make_trackers

if TYPE_CHECKING:
    from netlang.data import DataSplits

__all__ = ["NonFiniteLoss", "TrainResult", "fit"]

# On CUDA, batch results are read back (a wait for the device) at most this often.
FLUSH_SECONDS = 0.25


def fit(
    module: torch.nn.Module,
    splits: DataSplits,
    config: TrainConfig,
    run_dir: Path | str,
    *,
    source_text: str,
    resume: bool = False,
    log: Log = print,
    loader: MakeLoader | None = None,
    weight_names: Collection[str] | None = None,
    metadata: dict[str, Any] | None = None,
    stream: TextIO | None = None,
    layers: Sequence[str] | None = None,
    world: World | None = None,
    quiet: bool = False,
    output_names: Sequence[str] = (),
    tracking: dict[str, Any] | None = None,
) -> TrainResult:
    """Train `module` on `splits` as `config` says, recording everything in `run_dir`.

    Args:
        module: the model; it is trained in place (on config.device) and ends with the final
            weights, or the best epoch's when early stopping restores them.
        splits: train/val/test Datasets (x, y arrays), `classes` and `input_shape`.
        config: the resolved configuration.
        run_dir: the run directory; created if missing.
        source_text: the `.net` source, saved as source.net.
        resume: continue from run_dir/checkpoints (after an interrupt, or with more epochs).
        log: where summary lines and messages go.
        loader: batches a Dataset; defaults to netlang.data.make_loader.
        weight_names: the state_dict names L1/L2 act on (the IR knows them); None guesses.
        metadata: extra config.json entries (model arguments, normalisation statistics).
        stream: the progress bar's terminal (stdout by default).
        layers: the model's layer names in model order (the IR's nodes), which a staged run's
            patterns name; None takes the module's submodules.
        world: this process's rank in a distributed job (its process group joined); None for a
            lone process. `config.batch` is then the global batch, split evenly across ranks.
        quiet: no progress bar and no per-epoch lines.
        output_names: the model's output names (the IR's); the task's pictures name them.
        tracking: make_trackers' options ({"tensorboard": bool | None, "mlflow": URI | None});
            None writes to no tracker.

    Returns:
        What happened: history, best epoch, why it stopped, test results.

    Raises:
        NonFiniteLoss: the loss became NaN or infinite.
        ValueError: the configuration does not fit the data (e.g. val_loss with no val split),
            or `resume` finds no checkpoint or a different configuration.
    """
    from netlang.data import make_loader

    run_dir, loader, world = Path(run_dir), loader or make_loader, world or World()
    task, config, splits = settle(config, splits)
    log = log if world.is_main else _silent
    device = world.device(device_for(config.device))
    with _determinism(device):
        run = prepare(module, splits, config, device, weight_names, world, task)
        run.output_names = tuple(output_names)
        if config.staged:
            start_stages(run, splits, layers)
        if world.is_main:
            start_run_dir(run_dir, config, splits, source_text, metadata, resume)
            if tracking is not None:
                run.trackers = make_trackers(run_dir, config.model, **tracking)
        if world.distributed:
            log(f"{world.describe_batch(config.batch)} (global batch = ranks x per-rank batch)")
        if resume:
            restore(run, run_dir, log, splits)
        else:
            torch.manual_seed(config.seed + world.rank)
        progress = Progress(
            config.epochs, log, stream, draw=world.is_main, quiet=quiet, metric=task.metric
        )
        try:
            with deferred_interrupt() as interrupt:
                reason = _stages(run, splits, run_dir, loader, progress, interrupt, log)
        except KeyboardInterrupt:
            save_interrupted(run, run_dir, log)
            return TrainResult(run_dir, run.history, run.tracker.best_epoch, "interrupted")
        test = finish_run(run, splits, run_dir, loader, reason, log) if world.is_main else None
    return TrainResult(run_dir, run.history, run.tracker.best_epoch, reason, test)


def _silent(line: str) -> None:
    """The log of ranks other than 0."""


@contextlib.contextmanager
def _determinism(device: torch.device) -> Iterator[None]:
    """Deterministic kernels on CPU (bit-reproducible runs); CUDA keeps its fast kernels."""
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def _stages(
    run: RunState,
    splits: DataSplits,
    run_dir: Path,
    loader: MakeLoader,
    progress: Progress,
    interrupt: threading.Event,
    log: Log,
) -> str:
    """Train the current stage and each later one in turn; returns why the last one stopped.
    A stage that stops early hands its best weights on when it restores them."""
    reason = _epochs(run, splits, run_dir, loader, progress, interrupt)
    while run.plan is not None and run.stage + 1 < len(run.plan.stages):
        stop, tracker = run.config.early_stop, run.tracker
        if reason == "early_stop":
            log(f"stage {run.plan.stages[run.stage].name}: early stop after epoch {run.epoch}")
        if stop is not None and stop.restore_best and run.best is not None:
            run.module.load_state_dict(run.best)
            log(
                f"restored the weights of epoch {tracker.best_epoch} "
                f"({tracker.monitor} {tracker.best:.4f})"
            )
        enter_stage(run, splits, run.stage + 1, run.epoch)
        stage = run.plan.stages[run.stage]
        log(
            f"stage {run.stage + 1}/{len(run.plan.stages)} {stage.name}: {stage.epochs} epochs, "
            f"{stage.optimizer.name} lr {stage.optimizer.lr:g}"
        )
        reason = _epochs(run, splits, run_dir, loader, progress, interrupt)
    return reason


def _epochs(
    run: RunState,
    splits: DataSplits,
    run_dir: Path,
    loader: MakeLoader,
    progress: Progress,
    interrupt: threading.Event,
) -> str:
    """Train epoch after epoch; returns why it stopped ("completed" or "early_stop")."""
    while run.epoch < run.config.epochs and not run.tracker.should_stop:
        lr = run.optimizer.param_groups[0]["lr"]
        progress.start_epoch()
        _train_epoch(run, splits.train, loader, progress, interrupt)
        row = _close_epoch(run, splits, loader, lr)
        for tracker in run.trackers:
            tracker.epoch(row)
        improved = _track(run, row)
        save_checkpoint(run, run_dir)
        progress.end_epoch(row, "  *" if improved else "")
    return "early_stop" if run.tracker.should_stop else "completed"


def _train_epoch(
    run: RunState, dataset: Any, loader: MakeLoader, progress: Progress, interrupt: threading.Event
) -> None:
    """Train on the epoch's batches from run.batch on (skipping those a resumed run has done)."""
    config, world = run.config, run.world
    shard = {"shard": (world.rank, world.size)} if world.distributed else {}
    batch = world.local_batch(config.batch)
    # batch norm cannot train on a lone sample: a last batch of one is left out (shuffled,
    # it is another sample each epoch); `check` refuses `batch 1` with such a layer
    lone = not world.distributed and len(dataset) % batch == 1 < len(dataset)
    batches = loader(
        dataset,
        batch,
        shuffle=True,
        seed=config.seed,
        epoch=run.epoch,
        augment=run.augment,
        **shard,
        **({"drop_last": True} if lone and _has_batchnorm(run.module) else {}),
    )
    total = len(batches)
    started = flushed = time.perf_counter() - run.sums["seconds"]
    for k, (x, y) in enumerate(batches):
        if k < run.batch:
            continue
        _step(run, run.placed(x), torch.as_tensor(y).to(run.device))
        run.batch = k + 1
        now = time.perf_counter()
        run.sums["seconds"] = now - started
        if run.device.type == "cpu" or now - flushed > FLUSH_SECONDS or run.batch == total:
            run.flush()
            flushed = now
            progress.batch(run.epoch, run.batch, total, *run.running())
        if world.any(interrupt.is_set()):
            raise KeyboardInterrupt
    run.flush()


def _has_batchnorm(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


def _step(run: RunState, x: Any, y: torch.Tensor) -> None:
    """One optimisation step on one batch; queues its loss and accuracy count for _flush."""
    config, module = run.config, run.module
    run.in_step = True
    run.optimizer.zero_grad(set_to_none=True)
    amp_type = torch.float16 if run.device.type == "cuda" else torch.bfloat16
    with torch.autocast(run.device.type, dtype=amp_type, enabled=config.amp):
        out = first_output(run.forward(*arguments(x)))
        loss = run.loss_fn(out, y)
    extra = penalty(run.weights, config.penalties, run.examples)
    run.scaler.scale(loss if extra is None else loss + extra).backward()
    if config.clip is not None:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(module.parameters(), config.clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    assert config.loss is not None
    counts = run.task.batch_metric(out.detach(), y, config.loss.name)
    correct = counts[0].to(loss.dtype) if counts is not None else torch.zeros_like(loss)
    run.pending.append(
        (
            run.batch,
            len(y),
            counts[1] if counts is not None else 0,
            torch.stack([loss.detach(), correct.detach()]).float(),
        )
    )
    run.in_step = False


def _close_epoch(
    run: RunState, splits: DataSplits, loader: MakeLoader, lr: float
) -> dict[str, Any]:
    """Validate if due, append the epoch's metrics row, advance the schedule; returns the row."""
    config, sums = run.config, run.world.reduce_sums(run.sums)
    run.world.sync_buffers(run.module)
    metric = run.task.metric
    row: dict[str, Any] = {
        "epoch": run.epoch + 1,
        "train_loss": sums["loss"] / max(sums["samples"], 1),
        f"train_{metric}": sums["correct"] / sums["counted"] if sums["counted"] else None,
        "val_loss": None,
        f"val_{metric}": None,
        "lr": lr,
        "stage": run.plan.stages[run.stage].name if run.plan is not None else None,
    }
    last = run.epoch + 1 == config.epochs
    if splits.val is not None and ((run.epoch + 1) % config.val_every == 0 or last):
        result = evaluate(
            run.module,
            run.world.shard(splits.val),
            loss_fn=run.loss_fn,
            metric=lambda out, y: run.task.batch_metric(out, y, config.loss.name),
            batch=run.world.local_batch(config.batch),
            loader=loader,
            device=run.device,
        )
        row["val_loss"], row[f"val_{metric}"] = run.world.reduce_evaluation(result)
    row["seconds"] = round(sums["seconds"], 3)
    run.history.append(row)
    run.schedule.end_epoch(run.epoch, row)
    run.epoch, run.batch = run.epoch + 1, 0
    run.sums = dict.fromkeys(sums, 0.0)
    return row


def _track(run: RunState, row: dict[str, Any]) -> bool:
    """Feed the monitored metric to the tracker; on a new best, keep those weights (the epoch's
    checkpoint saves them)."""
    value = row.get(run.tracker.monitor)
    if value is None or not run.tracker.update(row["epoch"], value):
        return False
    run.best, run.best_unsaved = ckpt.snapshot(run.module), True
    return True
