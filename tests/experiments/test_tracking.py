"""Experiment tracking: TensorBoard event files in the run directory (read back with
TensorBoard's own EventAccumulator) and an MLflow run in a local file store."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlang.train.run import train_file

SOURCE = """
model Tiny(width: int = 8) {
    input x: float32[N, 64]
    y = x -> linear(width) -> relu -> linear(10)
    output y
}

train Tiny {
    data      digits(flatten=true, split=[0.3, 0.3, 0.4])
    normalize none
    batch     128
    epochs    3
    optimizer adam(lr=1e-2)
}
"""


@pytest.fixture
def net(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.net"
    path.write_text(SOURCE)
    return path


@pytest.mark.slow
def test_tensorboard_event_files_hold_every_epoch_the_pictures_and_hparams(
    net: Path, tmp_path: Path
) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    result = train_file(
        net,
        overrides={"out": str(run_dir)},
        log=lambda _: None,
        quiet=True,
        tracking={"tensorboard": True, "mlflow": None},
    )
    events = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr"} <= set(
        tags["scalars"]
    )
    val = events.Scalars("loss/val")
    assert [e.step for e in val] == [1, 2, 3]
    assert [e.value for e in val] == pytest.approx([r["val_loss"] for r in result.history])
    assert {"curves", "confusion"} <= set(tags["images"])
    hparams = events.PluginTagToContent("hparams")
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(hparams)
    assert b"arguments.width" in hparams["_hparams_/session_start_info"]


@pytest.mark.slow
def test_mlflow_run_has_params_metrics_and_the_onnx_model(net: Path, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    result = train_file(
        net,
        overrides={"out": str(tmp_path / "run")},
        settings={"width": "12"},
        log=lambda _: None,
        quiet=True,
        tracking={"tensorboard": False, "mlflow": uri},
    )
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("Tiny")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["arguments.width"] == "12" and run.data.params["epochs"] == "3"
    history = client.get_metric_history(run.info.run_id, "loss_val")
    assert [m.step for m in history] == [1, 2, 3]
    assert history[-1].value == pytest.approx(result.history[-1]["val_loss"])
    assert run.data.metrics["test_accuracy"] == pytest.approx(result.test["accuracy"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model.onnx", "curves.png", "config.json"} <= artifacts
