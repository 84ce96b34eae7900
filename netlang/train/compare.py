"""Comparing runs: run directories (or a sweep's parent) -> what differs between their resolved
configurations, a table of final and best figures, and one picture (compare.png)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netlang.train.plots import plot_compare, task_metric
from netlang.train.settings import EarlyStopConfig
from netlang.train.sweep import SWEEP_FILE

# More differing settings than this, and a legend names each run by its folder instead.
MAX_LABEL_KEYS = 4
# Configuration entries that never tell runs apart in a legend.
_IGNORED = {"config.out", "processes"}


@dataclass
class Run:
    path: Path
    config: dict[str, Any]  # config.json, flattened to dotted keys
    history: list[dict[str, Any]]
    test: dict[str, Any] = field(default_factory=dict)
    outcome: dict[str, Any] = field(default_factory=dict)


def run_dirs(paths: list[Path]) -> list[Path]:
    """Run directories, a sweep's parent expanding to its runs (sweep.json order, else sorted
    subfolders with a config.json).

    Raises:
        ValueError: a path that is neither a run directory nor holds any.
    """
    found: list[Path] = []
    for path in paths:
        if (path / "config.json").is_file():
            found.append(path)
        elif (path / SWEEP_FILE).is_file():
            sweep = json.loads((path / SWEEP_FILE).read_text(encoding="utf-8"))
            found += [path / entry["run"] for entry in sweep["runs"]]
        elif children := sorted(p for p in path.glob("*") if (p / "config.json").is_file()):
            found += children
        else:
            raise ValueError(f"{path} is not a run directory (no config.json) nor holds any")
    return found


def load_run(path: Path) -> Run:
    """A run directory's config.json, metrics.json and (when there) test.json, outcome.json."""
    if not (path / "metrics.json").is_file():
        raise ValueError(f"{path} has no metrics.json: has it trained an epoch?")
    optional = {
        name: json.loads((path / f"{name}.json").read_text(encoding="utf-8"))
        for name in ("test", "outcome")
        if (path / f"{name}.json").is_file()
    }
    return Run(
        path,
        flatten(json.loads((path / "config.json").read_text(encoding="utf-8"))),
        json.loads((path / "metrics.json").read_text(encoding="utf-8")),
        **optional,
    )


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"config": {"optimizer": {"lr": 0.1}}} -> {"config.optimizer.lr": 0.1}; lists stay."""
    if isinstance(data, dict) and "call" not in data:
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def differences(runs: list[Run]) -> list[str]:
    """The flattened keys whose values are not the same in every run (sorted), the `set`
    record and normalisation statistics left out (they follow from the rest)."""
    keys = sorted({k for run in runs for k in run.config})
    return [
        k
        for k in keys
        if k not in _IGNORED
        and not k.startswith(("set.", "normalization.", "examples."))
        and len({json.dumps(_numeric(run.config.get(k)), sort_keys=True) for run in runs}) > 1
    ]


def _numeric(value: Any) -> Any:
    """Numbers as floats, so `p=0` from `--set` and a default `0.0` read as the same value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: _numeric(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numeric(v) for v in value]
    return value


def labels(runs: list[Run]) -> list[str]:
    """A legend label per run: what differs, written short (`p=0.5, optimizer.lr=0.01`)."""
    keys = _collapse(differences(runs), runs)
    if "model" in keys:  # other models: their name, not the arguments one of them lacks
        models = [run.config.get("model") for run in runs]
        rest = [k for k in keys if k not in ("model", "config.model") and not _lacking(k, runs)]
        keys = ["model"] if len(set(models)) == len(models) else ["model", *rest]
    if not keys or len(keys) > MAX_LABEL_KEYS:  # unrelated runs: their folders name them
        return [run.path.name for run in runs]
    return [", ".join(_setting(k, _get(run, k)) for k in keys) for run in runs]


def _setting(key: str, value: Any) -> str:
    """`key=value` in the train section's words: `regularize=l2(0.1)` (not the resolved
    `penalties=[{"kind": ...}]`), `early_stop=(patience=3)` (what is not the default),
    `early_stop=none`."""
    if key == "config.penalties" and isinstance(value, list):
        calls = [f"{p['kind']}({_value(p['strength'])})" for p in value if isinstance(p, dict)]
        return f"regularize={', '.join(calls) or 'none'}"
    if key == "config.early_stop" and isinstance(value, dict):
        defaults = asdict(EarlyStopConfig())
        changed = {k: v for k, v in value.items() if k == "patience" or defaults.get(k) != v}
        return f"early_stop={_value(changed)}"
    return f"{_short(key)}={'none' if value is None else _value(value)}"


def _lacking(key: str, runs: list[Run]) -> bool:
    """A model argument that some run's model does not have."""
    return key.startswith("arguments.") and any(key not in run.config for run in runs)


def _collapse(keys: list[str], runs: list[Run]) -> list[str]:
    """`early_stop.patience`, `early_stop.mode`, ... -> `early_stop` where a run has none at all."""
    collapsed: list[str] = []
    for key in keys:
        parts = key.split(".")
        parents = [".".join(parts[:i]) for i in range(1, len(parts))]
        top = next((p for p in parents if any(p in run.config for run in runs)), key)
        if top not in collapsed:
            collapsed.append(top)
    return collapsed


def _get(run: Run, key: str) -> Any:
    """A flattened key's value, or the nested dict a collapsed key stands for."""
    if key in run.config:
        return run.config[key]
    inner = {k[len(key) + 1 :]: v for k, v in run.config.items() if k.startswith(key + ".")}
    return inner or None


def _short(key: str) -> str:
    for prefix in ("arguments.", "config."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _value(value: Any) -> str:
    if isinstance(value, dict) and "call" in value:
        inner = [_value(a) for a in value["args"]] + [
            f"{k}={_value(v)}" for k, v in value["kwargs"].items()
        ]
        return f"{value['call']}({', '.join(inner)})" if inner else value["call"]
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_value(v)}" for k, v in value.items()) + ")"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def table(runs: list[Run]) -> list[dict[str, Any]]:
    """Per run: final train/val loss, best val loss and its epoch, final/best val metric, the
    test figures."""
    rows = []
    for label, run in zip(labels(runs), runs):
        history = run.history
        metric = task_metric(history)
        last = history[-1] if history else {}
        val = [r for r in history if r.get("val_loss") is not None]
        best = min(val, key=lambda r: r["val_loss"]) if val else {}
        row: dict[str, Any] = {
            "run": label,
            "epochs": len(history),
            "train_loss": last.get("train_loss"),
            "val_loss": last.get("val_loss"),
            "best_val_loss": best.get("val_loss"),
            "best_epoch": best.get("epoch"),
        }
        if metric:
            scores = [r[f"val_{metric}"] for r in history if r.get(f"val_{metric}") is not None]
            row[f"val_{metric}"] = last.get(f"val_{metric}")
            best_of = max if _higher_is_better(metric) else min
            row[f"best_val_{metric}"] = best_of(scores) if scores else None
        row["shipped_epoch"] = run.outcome.get("shipped_epoch")
        row["test_loss"] = run.test.get("loss")
        if run.test.get("accuracy") is not None:
            row["test_accuracy"] = run.test["accuracy"]
        rows.append(row)
    return rows


def _higher_is_better(metric: str) -> bool:
    """Whether the tasks that report `metric` want it high (accuracy) or low (mae)."""
    from netlang.tasks import TASK_MODULES, get_task

    tasks = [get_task(name) for name in TASK_MODULES]
    return next((t.higher_is_better for t in tasks if t.metric == metric), True)


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width text table (accuracies as percentages)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_cell(c, row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{100 * value:.2f}%" if "accuracy" in column else f"{value:.4f}"
    return str(value)


def compare(
    paths: list[Path], output: Path, *, log_scale: bool = False
) -> tuple[list[Run], list[dict[str, Any]]]:
    """Load the runs, draw `output`, return them with the table rows.

    Raises:
        ValueError: a path that holds no run.
    """
    runs = [load_run(p) for p in run_dirs(paths)]
    if not runs:
        raise ValueError("no runs to compare")
    models = sorted({str(run.config.get("model")) for run in runs})
    data = sorted({str((run.config.get("config.data") or {}).get("call")) for run in runs})
    title = f"{', '.join(models)} on {', '.join(data)}"
    plot_compare(
        output, list(zip(labels(runs), (r.history for r in runs))), title=title, log_scale=log_scale
    )
    return runs, table(runs)
