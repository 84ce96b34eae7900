"""The run directory's bookends: source + config -> source.net and config.json before training;
trained module + test split -> best weights restored, curves.png, and the task's report
(test.json, its pictures) after.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlang.train.config import TrainConfig
from netlang.train.evaluate import MakeLoader
from netlang.train.plots import plot_curves
from netlang.train.report import write_json

if TYPE_CHECKING:
    from netlang.data import DataSplits
    from netlang.train.state import Log, RunState

# Settings a resumed run may change: how long it runs, where it runs, where it writes.
RESUMABLE_CHANGES = ("epochs", "device", "out")


def start_run_dir(
    run_dir: Path,
    config: TrainConfig,
    splits: DataSplits,
    source_text: str,
    metadata: dict[str, Any] | None,
    resume: bool,
) -> None:
    """Create the folders, write source.net and config.json (checked against the old on resume)."""
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    resolved = config.to_json()
    if resume and (run_dir / "config.json").is_file():
        _check_same(
            json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["config"], resolved
        )
    (run_dir / "source.net").write_text(source_text, encoding="utf-8")
    sizes = {
        name: None if getattr(splits, name) is None else len(getattr(splits, name))
        for name in ("train", "val", "test")
    }
    if metadata and metadata.get("tokenizer"):
        write_json(run_dir / "tokenizer.json", metadata["tokenizer"])
    write_json(
        run_dir / "config.json",
        {
            "model": config.model,
            "config": resolved,
            "examples": sizes,
            "classes": None if splits.classes is None else list(splits.classes),
            "input_shape": list(splits.input_shape),
            **(
                {"input_shapes": {k: list(v) for k, v in splits.input_shapes.items()}}
                if splits.input_shapes
                else {}
            ),
            **(metadata or {}),
        },
    )


def _check_same(saved: dict[str, Any], resolved: dict[str, Any]) -> None:
    changed = sorted(
        k
        for k in set(saved) | set(resolved)
        if k not in RESUMABLE_CHANGES and saved.get(k) != resolved.get(k)
    )
    if changed:
        raise ValueError(
            f"cannot resume: the configuration changed ({', '.join(changed)}); "
            "a resumed run must train as the interrupted one did"
        )


def shipped_checkpoint(config: TrainConfig) -> str:
    """The one rule for which weights a run ships: the best epoch's ("best", by the monitored
    metric), unless early stopping is told `restore_best=false` ("last"). test.json scores them,
    `export` ships them by default, curves.png marks their epoch, outcome.json names both."""
    stop = config.early_stop
    return "last" if stop is not None and not stop.restore_best else "best"


def finish_run(
    run: RunState, splits: DataSplits, run_dir: Path, loader: MakeLoader, reason: str, log: Log
) -> dict[str, Any] | None:
    """Put the shipped weights in the module, record them in outcome.json, draw the curves,
    evaluate those weights on the test split."""
    tracker = run.tracker
    if reason == "early_stop":
        log(
            f"early stop after epoch {run.epoch}: {tracker.monitor} has not improved for "
            f"{tracker.wait} epochs (best {tracker.best:.4f} in epoch {tracker.best_epoch})"
        )
    checkpoint, shipped = shipped_checkpoint(run.config), run.epoch
    if checkpoint == "best" and run.best is not None and tracker.best_epoch is not None:
        shipped = tracker.best_epoch
        if shipped != run.epoch:
            run.module.load_state_dict(run.best)
            log(f"restored the weights of epoch {shipped} ({tracker.monitor} {tracker.best:.4f})")
    elif checkpoint == "best":
        checkpoint = "last"  # no epoch was ever measured (no monitored value): the last ships
    outcome = {
        "best_epoch": best_epoch(run.history, tracker.monitor, tracker.mode),
        "shipped_epoch": shipped,
        "shipped_checkpoint": checkpoint,  # checkpoints/<this>.safetensors, what export takes
        "stop_epoch": run.epoch if reason == "early_stop" else None,
        "stop_reason": reason,
        "monitor": tracker.monitor,
    }
    write_json(run_dir / "outcome.json", outcome)
    draw_curves(run_dir, run.history, outcome)
    log(f"shipped weights: checkpoints/{checkpoint}.safetensors (epoch {shipped})")
    if splits.test is None:
        log("no test split: skipping the test evaluation")
        test = None
    else:
        test = _test(run, splits, run_dir, loader, log, outcome)
    for tracker in run.trackers:
        tracker.finish(run_dir, outcome, test)
    return test


def best_epoch(history: list[dict[str, Any]], monitor: str, mode: str) -> int | None:
    """The epoch with the best `monitor` value over the whole run (all stages)."""
    rows = [r for r in history if r.get(monitor) is not None]
    if not rows:
        return None
    pick = min if mode == "min" else max
    return int(pick(rows, key=lambda r: r[monitor])["epoch"])


def run_title(run_dir: Path) -> str:
    """ "Model on data (what --set changed)", from the run's config.json."""
    saved = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    data = (saved["config"].get("data") or {}).get("call", "?")
    changed = ", ".join(f"{k}={v}" for k, v in (saved.get("set") or {}).items())
    return f"{saved['model']} on {data}" + (f" ({changed})" if changed else "")


def draw_curves(
    run_dir: Path, history: list[dict[str, Any]], outcome: dict[str, Any], log_scale: bool = False
) -> Path:
    """curves.png (curves-log.png with a log-scale loss) of a run directory."""
    path = run_dir / ("curves-log.png" if log_scale else "curves.png")
    plot_curves(
        path,
        history,
        title=run_title(run_dir),
        best_epoch=outcome.get("best_epoch"),
        shipped_epoch=outcome.get("shipped_epoch"),
        stop_epoch=outcome.get("stop_epoch"),
        log_scale=log_scale,
    )
    return path


def _test(
    run: RunState,
    splits: DataSplits,
    run_dir: Path,
    loader: MakeLoader,
    log: Log,
    outcome: dict[str, Any],
) -> dict[str, Any]:
    """The task's report on the test split, saved as test.json."""
    from netlang.tasks.base import TestContext

    assert splits.test is not None and run.config.loss is not None
    context = TestContext(
        module=run.module,
        dataset=splits.test,
        splits=splits,
        run_dir=run_dir,
        loader=loader,
        device=run.device,
        batch=run.config.batch,
        loss_fn=run.loss_fn,
        log=log,
        model=run.config.model,
        loss_name=run.config.loss.name,
        augment=run.augment,
        best=run.best,
        best_epoch=run.tracker.best_epoch,
        output_names=run.output_names,
        task_options=dict(run.config.task_options),
        loss_options=dict(run.config.loss.options),
    )
    test = {"task": run.task.name, **run.task.report(context)}
    test.update(checkpoint=outcome["shipped_checkpoint"], epoch=outcome["shipped_epoch"])
    write_json(run_dir / "test.json", test)
    return test
