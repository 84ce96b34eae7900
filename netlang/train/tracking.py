"""Experiment tracking where people already look: each finished epoch's metrics and, at the end,
the run's pictures, hyper-parameters and model go to TensorBoard event files in the run directory
(`tensorboard --logdir runs`) and, given `--mlflow URI`, to an MLflow tracking store.

Both libraries are optional extras (`pip install netlang[tracking]`); a tracker is made only when
asked for or, for TensorBoard, when the package is installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

# metrics-row column -> TensorBoard/MLflow scalar tag
TAGS = {
    "train_loss": "loss/train",
    "val_loss": "loss/val",
    "train_accuracy": "accuracy/train",
    "val_accuracy": "accuracy/val",
    "lr": "lr",
}
PICTURES = ("curves.png", "confusion.png")


class Tracker(Protocol):
    def epoch(self, row: dict[str, Any]) -> None: ...

    def finish(self, run_dir: Path, outcome: dict[str, Any], test: dict[str, Any] | None) -> None:
        """After the run: pictures, hyper-parameters with the final figures, artifacts."""


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The row's measured numbers under their tags (missing validation epochs left out)."""
    return {tag: float(row[key]) for key, tag in TAGS.items() if row.get(key) is not None}


def hyperparameters(run_dir: Path) -> dict[str, Any]:
    """config.json's model arguments and settings, flattened to `name: number | str | bool`."""
    saved = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    flat: dict[str, Any] = {"model": saved["model"]}
    for prefix in ("arguments", "config"):
        for key, value in (saved.get(prefix) or {}).items():
            if key in ("model", "out"):
                continue
            plain = isinstance(value, (int, float, str, bool)) and value is not None
            flat[f"{prefix}.{key}" if prefix == "arguments" else key] = (
                value if plain else json.dumps(value, sort_keys=True)
            )
    return flat


def final_metrics(
    history: Sequence[dict[str, Any]], test: dict[str, Any] | None
) -> dict[str, float]:
    last = scalars(history[-1]) if history else {}
    out = {f"final/{tag}": value for tag, value in last.items() if tag != "lr"}
    for key in ("loss", "accuracy"):
        if test and test.get(key) is not None:
            out[f"test/{key}"] = float(test[key])
    return out


class TensorBoardTracker:
    """Event files in the run directory: one step per epoch; images and hparams at the end."""

    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir))
        self.history: list[dict[str, Any]] = []

    def epoch(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        for tag, value in scalars(row).items():
            self.writer.add_scalar(tag, value, row["epoch"])
        self.writer.flush()

    def finish(self, run_dir: Path, outcome: dict[str, Any], test: dict[str, Any] | None) -> None:
        from matplotlib.image import imread

        step = self.history[-1]["epoch"] if self.history else 0
        for name in PICTURES:
            if (run_dir / name).is_file():
                image = imread(run_dir / name)[..., :3]
                self.writer.add_image(name.removesuffix(".png"), image, step, dataformats="HWC")
        self.writer.add_hparams(
            hyperparameters(run_dir), final_metrics(self.history, test), run_name="."
        )
        self.writer.close()


class MlflowTracker:
    """One MLflow run per training run, in the experiment named after the model: parameters at
    the start, metrics per epoch, then the pictures, config.json and the exported ONNX."""

    def __init__(self, uri: str, run_dir: Path, model: str) -> None:
        import mlflow

        if "://" not in uri or uri.startswith("file:"):
            # MLflow 3 refuses its (maintained, local) file store unless told this, and a
            # file URI here is the user saying it
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.mlflow = mlflow
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(model)
        self.run = mlflow.start_run(run_name=run_dir.name)
        self.history: list[dict[str, Any]] = []
        mlflow.log_params({k: str(v)[:500] for k, v in hyperparameters(run_dir).items()})

    def epoch(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        self.mlflow.log_metrics(
            {tag.replace("/", "_"): v for tag, v in scalars(row).items()}, step=row["epoch"]
        )

    def finish(self, run_dir: Path, outcome: dict[str, Any], test: dict[str, Any] | None) -> None:
        from netlang.export.ship import load_trained, write_onnx

        metrics = {k.replace("/", "_"): v for k, v in final_metrics(self.history, test).items()}
        self.mlflow.log_metrics(metrics)
        for name in (*PICTURES, "config.json", "outcome.json", "source.net"):
            if (run_dir / name).is_file():
                self.mlflow.log_artifact(str(run_dir / name))
        with tempfile.TemporaryDirectory() as folder:
            onnx = write_onnx(load_trained(run_dir), Path(folder) / "model.onnx")
            self.mlflow.log_artifact(str(onnx))
        self.mlflow.end_run()


def make_trackers(
    run_dir: Path, model: str, *, tensorboard: bool | None = None, mlflow: str | None = None
) -> list[Tracker]:
    """The trackers for one run; `tensorboard` None means "if the package is installed".

    Raises:
        ValueError: a tracker asked for whose package is not installed.
    """
    trackers: list[Tracker] = []
    installed = importlib.util.find_spec("tensorboard") is not None
    if tensorboard and not installed:
        raise ValueError("--tensorboard needs the tensorboard package: pip install tensorboard")
    if tensorboard or (tensorboard is None and installed):
        trackers.append(TensorBoardTracker(run_dir))
    if mlflow is not None:
        if importlib.util.find_spec("mlflow") is None:
            raise ValueError("--mlflow needs the mlflow package: pip install mlflow-skinny")
        trackers.append(MlflowTracker(mlflow, run_dir, model))
    return trackers
