"""`netlang compare`: runs (or a sweep's parent) -> what differs between them, a table of final
and best figures and one picture; learning curves mark the stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netlang.cli import main
from netlang.train.compare import compare, differences, labels, load_run, run_dirs, table
from netlang.train.plots import plot_curves, stage_starts, task_metric
from netlang.train.sweep import write_sweep


def _run(path: Path, p: float, val_losses: list[float], lr: float = 0.05) -> Path:
    """A run directory as `netlang train` leaves it (the files compare reads)."""
    path.mkdir(parents=True)
    config = {
        "model": "Mlp",
        "arguments": {"width": 16, "p": p},
        "config": {
            "data": {"call": "digits", "args": [], "kwargs": {}},
            "optimizer": {"name": "sgd", "lr": lr, "options": {}},
            "out": str(path),
        },
        "set": {"p": str(p)},
        "processes": 1,
    }
    (path / "config.json").write_text(json.dumps(config))
    rows = [
        {
            "epoch": i + 1,
            "train_loss": v / 2,
            "train_accuracy": 0.5 + 0.1 * i,
            "val_loss": v,
            "val_accuracy": 0.4 + 0.1 * i,
            "lr": lr,
            "seconds": 0.1,
            "stage": None,
        }
        for i, v in enumerate(val_losses)
    ]
    (path / "metrics.json").write_text(json.dumps(rows))
    (path / "test.json").write_text(json.dumps({"loss": 0.7, "accuracy": 0.81}))
    return path


def test_legend_names_only_what_differs(tmp_path: Path) -> None:
    runs = [
        load_run(_run(tmp_path / "a", 0.0, [1.0, 0.8])),
        load_run(_run(tmp_path / "b", 0.5, [1.1, 0.9])),
    ]
    assert differences(runs) == ["arguments.p"]  # not the output folder, not the --set record
    assert labels(runs) == ["p=0", "p=0.5"]
    runs.append(load_run(_run(tmp_path / "c", 0.5, [1.0], lr=0.1)))
    assert labels(runs)[2] == "p=0.5, optimizer.lr=0.1"


def test_an_int_and_an_equal_float_are_not_a_difference(tmp_path: Path) -> None:
    # `--set p=0` stores 0 (an int) where the default is 0.0: the same value
    runs = [
        load_run(_run(tmp_path / "a", 0, [1.0, 0.8])),
        load_run(_run(tmp_path / "b", 0.0, [1.1, 0.9], lr=0.1)),
    ]
    assert differences(runs) == ["config.optimizer.lr"]


def test_runs_of_other_models_are_named_by_their_model(tmp_path: Path) -> None:
    a, b = _run(tmp_path / "a", 0.0, [1.0]), _run(tmp_path / "b", 0.0, [1.0], lr=0.1)
    config = json.loads((b / "config.json").read_text())
    config.update(model="Cnn", arguments={"width": 16})  # its model has no p
    config["config"]["model"] = "Cnn"
    (b / "config.json").write_text(json.dumps(config))
    assert labels([load_run(a), load_run(b)]) == ["model=Mlp", "model=Cnn"]
    c = _run(tmp_path / "c", 0.0, [1.0], lr=0.2)  # a second Mlp: then the rest tells them apart
    assert labels([load_run(a), load_run(b), load_run(c)]) == [
        "model=Mlp, optimizer.lr=0.05",
        "model=Cnn, optimizer.lr=0.1",
        "model=Mlp, optimizer.lr=0.2",
    ]


def test_best_of_an_error_metric_is_its_lowest(tmp_path: Path) -> None:
    run = _run(tmp_path / "a", 0.0, [1.0, 0.8, 0.9])
    rows = json.loads((run / "metrics.json").read_text())
    for row, mae in zip(rows, [0.3, 0.1, 0.2]):
        del row["train_accuracy"], row["val_accuracy"]
        row["train_mae"] = row["val_mae"] = mae
    (run / "metrics.json").write_text(json.dumps(rows))
    (row,) = table([load_run(run)])
    assert row["val_mae"] == 0.2 and row["best_val_mae"] == 0.1


def test_table_has_final_and_best_figures_and_the_picture_is_drawn(tmp_path: Path) -> None:
    _run(tmp_path / "a", 0.0, [1.0, 0.6, 0.7])
    _run(tmp_path / "b", 0.5, [1.1, 0.9, 0.8])
    output = tmp_path / "compare.png"
    _, rows = compare([tmp_path / "a", tmp_path / "b"], output)
    assert rows[0]["val_loss"] == 0.7 and rows[0]["best_val_loss"] == 0.6
    assert rows[0]["best_epoch"] == 2 and rows[1]["best_epoch"] == 3
    assert rows[0]["best_val_accuracy"] == pytest.approx(0.6)
    assert rows[0]["test_accuracy"] == 0.81
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_takes_a_sweeps_parent_in_sweep_order(tmp_path: Path) -> None:
    runs = [
        ({"p": "0.5"}, _run(tmp_path / "p=0.5", 0.5, [1.0])),
        ({"p": "0"}, _run(tmp_path / "p=0", 0.0, [1.0])),
    ]
    write_sweep(tmp_path, "Mlp", runs)
    assert [p.name for p in run_dirs([tmp_path])] == ["p=0.5", "p=0"]
    result = CliRunner().invoke(main, ["compare", str(tmp_path), "-o", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["run", "epochs", "train_loss"]
    assert lines[1].startswith("p=0.5") and "81.00%" in lines[1]


def test_compare_of_a_folder_without_runs_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["compare", str(tmp_path)])
    assert result.exit_code == 1 and "not a run directory" in result.output


def test_curves_mark_stage_starts_and_find_the_task_metric(tmp_path: Path) -> None:
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "lr": 0.01, "stage": s}
        for e, s in ((1, "head"), (2, "head"), (3, "finetune"), (4, "finetune"))
    ]
    assert stage_starts(history) == [(3, "finetune")]
    assert task_metric(history) is None
    assert task_metric([{"epoch": 1, "val_loss": 1.0, "val_accuracy": 0.5}]) == "accuracy"
    plot_curves(
        tmp_path / "c.png", history, title="t", best_epoch=4, shipped_epoch=4, log_scale=True
    )
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_compare_picture_marks_where_each_runs_stages_start(tmp_path: Path, monkeypatch) -> None:
    from matplotlib.figure import Figure

    from netlang.train.plots import plot_compare

    drawn: list[Figure] = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, *a, **k: drawn.append(figure))
    staged = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "stage": s}
        for e, s in ((1, "head"), (2, "head"), (3, "finetune"))
    ]
    plain = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e, "stage": None} for e in (1, 2, 3)]
    plot_compare(tmp_path / "c.png", [("transfer", staged), ("scratch", plain)])
    (loss_axes,) = drawn[0].axes
    marks = [line for line in loss_axes.lines if line.get_label() == "transfer: finetune"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [2.5, 2.5]


def test_legend_speaks_the_train_sections_words(tmp_path: Path) -> None:
    runs = [_run(tmp_path / name, 0.0, [1.0]) for name in ("plain", "l2", "early")]
    settings = {
        "plain": {"penalties": [], "early_stop": None},
        "l2": {"penalties": [{"kind": "l2", "strength": 0.1}], "early_stop": None},
        "early": {
            "penalties": [],
            "early_stop": {
                "monitor": "val_loss",
                "mode": "min",
                "patience": 5,
                "min_delta": 0,
                "restore_best": True,
            },
        },
    }
    for run in runs:
        config = json.loads((run / "config.json").read_text())
        config["config"].update(settings[run.name])
        (run / "config.json").write_text(json.dumps(config))
    assert labels([load_run(run) for run in runs]) == [
        "early_stop=none, regularize=none",
        "early_stop=none, regularize=l2(0.1)",
        "early_stop=(patience=5), regularize=none",
    ]


def test_runs_that_differ_in_everything_are_named_by_their_folders(tmp_path: Path) -> None:
    runs = [_run(tmp_path / name, 0.0, [1.0]) for name in ("first", "second")]
    config = json.loads((runs[1] / "config.json").read_text())
    config["config"].update(batch=8, epochs=3, seed=4, clip=1.0, amp=True)
    (runs[1] / "config.json").write_text(json.dumps(config))
    assert labels([load_run(run) for run in runs]) == ["first", "second"]
