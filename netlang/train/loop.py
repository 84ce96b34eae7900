"""The training loop: module + DataSplits + TrainConfig -> trained weights and a run directory.

fit() reads as the run's outline; each step is a helper below. Bit-reproducible on CPU: the seed
fixes the global RNG that dropout draws from (saved in every checkpoint) and the loader's order
and augmentation (seeded per epoch), and deterministic kernels are on for the run's duration.
On several processes (a distributed World), each rank trains on its shard of every global batch
through DistributedDataParallel; rank 0 alone prints and writes the run directory.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import torch

from netlang.train import checkpoint as ckpt
from netlang.train.config import TrainConfig
from netlang.train.distributed import World
from netlang.train.early_stop import EarlyStopping
from netlang.train.evaluate import MakeLoader, evaluate, first_output
from netlang.train.finish import finish_run, start_run_dir
from netlang.train.objective import LossFn, build_loss, count_correct, penalised_weights, penalty
from netlang.train.optim import LRSchedule, build_optimizer
from netlang.train.progress import Progress
from netlang.train.report import write_metrics
from netlang.train.transfer import Layers, StagePlan

if TYPE_CHECKING:
    from netlang.data import DataSplits

Log = Callable[[str], Any]
# On CUDA, batch results are read back (a wait for the device) at most this often.
FLUSH_SECONDS = 0.25


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and batch."""


@dataclass
class TrainResult:
    run_dir: Path
    history: list[dict[str, Any]]
    best_epoch: int | None  # 1-based epoch whose weights best.safetensors holds
    stop_reason: str  # "completed" | "early_stop" | "interrupted"
    test: dict[str, Any] | None = None  # test.json's content, when there was a test split


@dataclass
class _Run:
    """Everything the epoch loop reads and mutates; its state_dict is the resume checkpoint."""

    module: torch.nn.Module
    forward: torch.nn.Module  # what training steps call: module, or DDP around it
    config: TrainConfig
    device: torch.device
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    scaler: torch.amp.GradScaler
    tracker: EarlyStopping
    loss_fn: LossFn
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None
    weights: list[torch.nn.Parameter]
    examples: int
    world: World
    epoch: int = 0  # epochs finished
    batch: int = 0  # batches finished in the current epoch
    sums: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("loss", "correct", "counted", "samples", "seconds"), 0.0
        )
    )
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, torch.Tensor] | None = None
    best_unsaved: bool = False  # a new best not yet in a checkpoint
    best_sha256: str | None = None  # of the best weights file the last checkpoint belongs with
    in_step: bool = False
    # (batch index, samples, counted, [loss, correct]) per trained batch not yet read back
    pending: list[tuple[int, int, int, torch.Tensor]] = field(default_factory=list)
    plan: StagePlan | None = None  # a staged run's stages (None: one plain stage)
    stage: int = 0  # the stage running now
    stage_start: int = 0  # the run epoch it started at

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "batch": self.batch,
            "sums": dict(self.sums),
            "history": self.history,
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "tracker": self.tracker.state_dict(),
            "rng": ckpt.rng_state(),
            "stage": self.stage,
            "stage_start": self.stage_start,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.batch = state["epoch"], state["batch"]
        self.sums, self.history = dict(state["sums"]), list(state["history"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        self.tracker.load_state_dict(state["tracker"])
        self.schedule.start_epoch(self.epoch)
        ckpt.set_rng_state(state["rng"])


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

    Returns:
        What happened: history, best epoch, why it stopped, test results.

    Raises:
        NonFiniteLoss: the loss became NaN or infinite.
        ValueError: the configuration does not fit the data (e.g. val_loss with no val split),
            or `resume` finds no checkpoint or a different configuration.
    """
    from netlang.data import make_loader

    run_dir, loader, world = Path(run_dir), loader or make_loader, world or World()
    log = log if world.is_main else _silent
    device = world.device(_device(config.device))
    with _determinism(device):
        run = _prepare(module, splits, config, device, weight_names, world)
        if config.staged:
            _start_stages(run, splits, layers)
        if world.is_main:
            start_run_dir(run_dir, config, splits, source_text, metadata, resume)
        if world.distributed:
            log(f"{world.describe_batch(config.batch)} (global batch = ranks x per-rank batch)")
        if resume:
            _restore(run, run_dir, log, splits)
        else:
            torch.manual_seed(config.seed + world.rank)
        progress = Progress(config.epochs, log, stream, draw=world.is_main)
        try:
            with _deferred_interrupt() as interrupt:
                reason = _stages(run, splits, run_dir, loader, progress, interrupt, log)
        except KeyboardInterrupt:
            _save_interrupted(run, run_dir, log)
            return TrainResult(run_dir, run.history, run.tracker.best_epoch, "interrupted")
        test = finish_run(run, splits, run_dir, loader, reason, log) if world.is_main else None
    return TrainResult(run_dir, run.history, run.tracker.best_epoch, reason, test)


def _silent(line: str) -> None:
    """The log of ranks other than 0."""


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but torch sees no CUDA device")
    return torch.device(name)


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


def _prepare(
    module: torch.nn.Module,
    splits: DataSplits,
    config: TrainConfig,
    device: torch.device,
    weight_names: Collection[str] | None,
    world: World,
) -> _Run:
    from netlang.data import make_augment

    module.to(device).train()
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, config.optimizer)
    tracker = _tracker(config, splits)
    amp = config.amp and device.type == "cuda"
    forward = world.wrap(module, device, config.sync_bn)
    return _Run(
        module,
        forward,
        config,
        device,
        optimizer,
        LRSchedule(optimizer, config.schedule, config.epochs),
        torch.amp.GradScaler(device.type, enabled=amp),
        tracker,
        build_loss(config.loss, device),
        make_augment(list(config.augment)) if config.augment else None,
        penalised_weights(module, weight_names),
        len(splits.train),
        world,
    )


def _tracker(config: TrainConfig, splits: DataSplits) -> EarlyStopping:
    monitor = _monitor(config, splits)
    stop = config.early_stop
    return EarlyStopping(
        monitor,
        stop.mode if stop else _mode(monitor),
        stop.patience if stop else None,
        stop.min_delta if stop else 0.0,
    )


def _monitor(config: TrainConfig, splits: DataSplits) -> str:
    """The metric that picks the best epoch: early stopping's, else val_loss (or train_loss)."""
    monitored = [config.early_stop.monitor] if config.early_stop else []
    if config.schedule.name == "plateau":
        monitored.append(str(config.schedule.options.get("monitor", "val_loss")))
    missing = [m for m in monitored if m.startswith("val_")]
    if splits.val is None and missing:
        raise ValueError(
            f"{missing[0]} needs a validation split, and the data has none: "
            "give the data a split with a val part"
        )
    if config.early_stop:
        return config.early_stop.monitor
    return "val_loss" if splits.val is not None else "train_loss"


def _mode(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"


def _restore(run: _Run, run_dir: Path, log: Log, splits: DataSplits) -> None:
    """Load the checkpoint; rank 0 reads it and sends it to the others (no shared disk needed)."""
    folder = run_dir / "checkpoints"
    saved = ckpt.read_checkpoint(folder) if run.world.is_main else None
    last, state, best = run.world.broadcast(saved)
    run.module.load_state_dict(last)
    state = run.world.adopt_state(state, run.config.seed)
    if run.plan is not None:  # the saved optimiser state belongs to the saved stage's groups
        _enter_stage(run, splits, state["stage"], state["stage_start"])
    run.load_state_dict(state)
    run.best, run.best_sha256 = best, state["best_sha256"]
    where = f"epoch {run.epoch + 1}" + (f", batch {run.batch + 1}" if run.batch else "")
    log(f"resuming {run_dir} at {where}")


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[threading.Event]:
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


def _start_stages(run: _Run, splits: DataSplits, layers: Sequence[str] | None) -> None:
    """Check every stage against the model and the data, then enter the first."""
    names = (
        layers
        if layers is not None
        else [name for name, sub in run.module.named_modules() if name and not any(sub.children())]
    )
    run.plan = StagePlan.build(run.config, Layers(names))
    for stage in run.plan.stages:
        _monitor(replace(run.config, early_stop=stage.early_stop, schedule=stage.schedule), splits)
    _enter_stage(run, splits, 0, 0)


def _enter_stage(run: _Run, splits: DataSplits, index: int, start: int) -> None:
    """Switch to stage `index`, from run epoch `start` on: its frozen layers (frozen batch norms
    stay in eval mode), and a new optimiser, schedule and early stopping of its own."""
    assert run.plan is not None
    stage = run.plan.stages[index]
    config = replace(
        run.config,
        epochs=start + stage.epochs,
        optimizer=stage.optimizer,
        schedule=stage.schedule,
        early_stop=stage.early_stop,
    )
    run.optimizer = build_optimizer(run.plan.apply(run.module, index), config.optimizer)
    run.forward = run.world.wrap(run.module, run.device, False)  # DDP sees the new frozen set
    run.schedule = LRSchedule(run.optimizer, config.schedule, stage.epochs, start)
    run.tracker = _tracker(config, splits)
    run.config, run.stage, run.stage_start, run.best = config, index, start, None


def _stages(
    run: _Run,
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
        _enter_stage(run, splits, run.stage + 1, run.epoch)
        stage = run.plan.stages[run.stage]
        log(
            f"stage {run.stage + 1}/{len(run.plan.stages)} {stage.name}: {stage.epochs} epochs, "
            f"{stage.optimizer.name} lr {stage.optimizer.lr:g}"
        )
        reason = _epochs(run, splits, run_dir, loader, progress, interrupt)
    return reason


def _epochs(
    run: _Run,
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
        improved = _track(run, row, run_dir)
        _save_checkpoint(run, run_dir)
        progress.end_epoch(row, "  *" if improved else "")
    return "early_stop" if run.tracker.should_stop else "completed"


def _train_epoch(
    run: _Run, dataset: Any, loader: MakeLoader, progress: Progress, interrupt: threading.Event
) -> None:
    """Train on the epoch's batches from run.batch on (skipping those a resumed run has done)."""
    config, world = run.config, run.world
    shard = {"shard": (world.rank, world.size)} if world.distributed else {}
    batches = loader(
        dataset,
        world.local_batch(config.batch),
        shuffle=True,
        seed=config.seed,
        epoch=run.epoch,
        augment=run.augment,
        **shard,
    )
    total = len(batches)
    started = flushed = time.perf_counter() - run.sums["seconds"]
    for k, (x, y) in enumerate(batches):
        if k < run.batch:
            continue
        _step(run, torch.as_tensor(x).to(run.device), torch.as_tensor(y).to(run.device))
        run.batch = k + 1
        now = time.perf_counter()
        run.sums["seconds"] = now - started
        if run.device.type == "cpu" or now - flushed > FLUSH_SECONDS or run.batch == total:
            _flush(run)
            flushed = now
            progress.batch(run.epoch, run.batch, total, *_running(run.sums))
        if world.any(interrupt.is_set()):
            raise KeyboardInterrupt
    _flush(run)


def _step(run: _Run, x: torch.Tensor, y: torch.Tensor) -> None:
    """One optimisation step on one batch; queues its loss and accuracy count for _flush."""
    config, module = run.config, run.module
    run.in_step = True
    run.optimizer.zero_grad(set_to_none=True)
    amp_type = torch.float16 if run.device.type == "cuda" else torch.bfloat16
    with torch.autocast(run.device.type, dtype=amp_type, enabled=config.amp):
        out = first_output(run.forward(x))
        loss = run.loss_fn(out, y)
    extra = penalty(run.weights, config.penalties, run.examples)
    run.scaler.scale(loss if extra is None else loss + extra).backward()
    if config.clip is not None:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(module.parameters(), config.clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    counts = count_correct(out.detach(), y, config.loss.name)
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


def _flush(run: _Run) -> None:
    """Read the queued batch results (one wait for the device), stop on the first non-finite
    loss, and add them to run.sums batch by batch, so the sums do not depend on when this ran."""
    if not run.pending:
        return
    values = torch.stack([stats for *_, stats in run.pending]).tolist()
    for (batch, samples, counted, _), (loss, correct) in zip(run.pending, values):
        if not math.isfinite(loss):
            raise NonFiniteLoss(
                f"the loss became {loss} in epoch {run.epoch + 1}, batch {batch + 1}; try a lower "
                "learning rate, gradient clipping (clip), or check the data for NaNs"
            )
        run.sums["loss"] += loss * samples
        run.sums["samples"] += samples
        run.sums["correct"] += correct
        run.sums["counted"] += counted
    run.pending.clear()


def _running(sums: dict[str, float]) -> tuple[int, float, float | None]:
    """(samples, mean loss, accuracy) so far this epoch, for the progress bar."""
    return (
        int(sums["samples"]),
        sums["loss"] / max(sums["samples"], 1),
        sums["correct"] / sums["counted"] if sums["counted"] else None,
    )


def _close_epoch(run: _Run, splits: DataSplits, loader: MakeLoader, lr: float) -> dict[str, Any]:
    """Validate if due, append the epoch's metrics row, advance the schedule; returns the row."""
    config, sums = run.config, run.world.reduce_sums(run.sums)
    run.world.sync_buffers(run.module)
    row: dict[str, Any] = {
        "epoch": run.epoch + 1,
        "train_loss": sums["loss"] / max(sums["samples"], 1),
        "train_accuracy": sums["correct"] / sums["counted"] if sums["counted"] else None,
        "val_loss": None,
        "val_accuracy": None,
        "lr": lr,
    }
    last = run.epoch + 1 == config.epochs
    if splits.val is not None and ((run.epoch + 1) % config.val_every == 0 or last):
        result = evaluate(
            run.module,
            run.world.shard(splits.val),
            loss_fn=run.loss_fn,
            loss_name=config.loss.name,
            batch=run.world.local_batch(config.batch),
            loader=loader,
            device=run.device,
        )
        row["val_loss"], row["val_accuracy"] = run.world.reduce_evaluation(result)
    row["seconds"] = round(sums["seconds"], 3)
    run.history.append(row)
    run.schedule.end_epoch(run.epoch, row)
    run.epoch, run.batch = run.epoch + 1, 0
    run.sums = dict.fromkeys(sums, 0.0)
    return row


def _track(run: _Run, row: dict[str, Any], run_dir: Path) -> bool:
    """Feed the monitored metric to the tracker; on a new best, keep and save those weights."""
    value = row.get(run.tracker.monitor)
    if value is None or not run.tracker.update(row["epoch"], value):
        return False
    run.best, run.best_unsaved = ckpt.snapshot(run.module), True
    return True


def _save_checkpoint(run: _Run, run_dir: Path) -> None:
    """The last weights, the resume state (gathered from every rank) and the metrics; rank 0
    writes them, with termination signals held so that a killed job keeps a matching set."""
    state = run.world.checkpoint_state(run.state_dict())
    new_best, run.best_unsaved = (run.best if run.best_unsaved else None), False
    if not run.world.is_main:
        return
    with ckpt.signals_held():
        last = ckpt.snapshot(run.module)
        folder = run_dir / "checkpoints"
        run.best_sha256 = ckpt.write_checkpoint(folder, state, last, new_best, run.best_sha256)
        write_metrics(run_dir, run.history)


def _save_interrupted(run: _Run, run_dir: Path, log: Log) -> None:
    """Ctrl-C: save where the run stands, unless a step was cut in half (then keep the last)."""
    if run.in_step:
        log(f"\ninterrupted in the middle of a step; the last checkpoint in {run_dir} is kept")
        return
    _flush(run)
    _save_checkpoint(run, run_dir)
    log(
        f"\ninterrupted in epoch {run.epoch + 1} after batch {run.batch}; checkpoint saved to "
        f"{run_dir / 'checkpoints'}; continue with --resume --out {run_dir}"
    )
