"""Data too small for a step's or a report's usual assumptions still trains and reports (a
final batch of one sample beside batch norm, test splits of a single example); data the model
cannot take (more token ids than its embedding holds) is a located diagnostic when train
starts, never an exception from the first step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from netlang.data import DataSplits, Dataset
from netlang.tasks.detection import mean_average_precision
from netlang.tasks.figures import plot_codes
from netlang.tasks.regression import regression_scores
from netlang.train.config import TrainConfig
from netlang.train.loop import fit


def test_a_lone_last_sample_is_left_out_where_batch_norm_trains(
    splits: DataSplits,
    make_model: Callable[[int], torch.nn.Module],
    make_config: Callable[..., TrainConfig],
    tmp_path: Path,
) -> None:
    config = make_config(batch=19, epochs=1)  # 96 samples = 5 batches of 19 + 1
    result = fit(make_model(0), splits, config, tmp_path, source_text="", log=lambda _: None)
    assert np.isfinite(result.history[0]["train_loss"])


def test_codes_of_a_single_example_are_drawn(tmp_path: Path) -> None:
    how = plot_codes(tmp_path / "codes.png", np.ones((1, 8)), None, None, title="one")
    assert how == "PCA" and (tmp_path / "codes.png").is_file()


def test_regression_scores_of_a_single_example_leave_r2_out() -> None:
    scores = regression_scores(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.5, 2.0]]))
    assert scores["r2"] is None and "r2_per_target" not in scores
    assert scores["mae"] == 0.25


def test_average_precision_names_class_ids_the_data_does_not_name() -> None:
    box = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
    predicted = [{"boxes": box, "scores": torch.tensor([0.9]), "labels": torch.tensor([3])}]
    truth = [{"boxes": box, "labels": torch.tensor([3])}]
    result = mean_average_precision(predicted, truth, ["zero"])
    assert result["ap_per_class"] == {"3": 1.0}


def test_single_example_test_split_reports(tmp_path: Path) -> None:
    """A regressor's test split of one example: the report says r2 is undefined."""
    from netlang.train.run import train_file

    x = np.random.default_rng(0).random((9, 3), dtype=np.float32)
    net = tmp_path / "r.net"
    net.write_text(
        "model R {\n    input x: float32[N, 3]\n    y = x -> linear(1)\n    output y\n}\n\n"
        'train R {\n    task regression\n    data csv("r.csv", label="y", split=[0.7, 0.2, 0.1])\n'
        "    loss mse\n    epochs 1\n}\n"
    )
    rows = "\n".join(",".join(f"{v:.4f}" for v in (*row, row.sum())) for row in x)
    (tmp_path / "r.csv").write_text("a,b,c,y\n" + rows + "\n")
    lines: list[str] = []
    train_file(net, overrides={"out": str(tmp_path / "run")}, log=lines.append, quiet=True)
    assert any("r2 n/a (one example)" in line for line in lines)


def test_mean_iou_counts_predicted_classes_the_data_does_not_name(tmp_path: Path) -> None:
    """A segmenter of 4 classes on data naming 2: its predictions of class 3 are scored."""
    from netlang.data import make_loader
    from netlang.tasks.segmentation import report

    module = torch.nn.Conv2d(1, 4, 1)
    with torch.no_grad():
        module.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 9.0]))  # always class 3
    data = Dataset(np.zeros((2, 1, 4, 4), np.float32), np.zeros((2, 4, 4), np.int64))
    result = report(
        module,
        data,
        ["bg", "one"],
        tmp_path,
        batch=2,
        loader=make_loader,
        device=torch.device("cpu"),
        log=lambda _: None,
    )
    assert len(result["iou_per_class"]) == 4 and result["pixel_accuracy"] == 0.0


def test_a_vocabulary_past_the_embedding_is_located_at_tokenize(tmp_path: Path) -> None:
    """The training texts give more token ids than the embedding holds: NL2054 at `tokenize`
    (it was an unlocated message)."""
    from netlang.diagnostics import CompileError
    from netlang.train.run import train_file

    net = tmp_path / "t.net"
    net.write_text(
        "model T {\n    input tokens: int64[N, 4]\n"
        "    y = tokens -> embedding(2, 3) -> flatten -> linear(2)\n    output y\n}\n\n"
        'train T {\n    data text("t.csv", text="text", label="label", split=[0.5, 0.5])\n'
        "    tokenize words(length=4, vocab=50)\n    epochs 1\n}\n"
    )
    rows = "\n".join(f"word{k} other{k} more{k},{'ab'[k % 2]}" for k in range(8))
    (tmp_path / "t.csv").write_text("text,label\n" + rows + "\n")
    with pytest.raises(CompileError) as raised:
        train_file(net, overrides={"out": str(tmp_path / "run")}, log=lambda _: None, quiet=True)
    (found,) = raised.value.diagnostics
    assert found.code == "NL2054" and found.span.start.line == 9
