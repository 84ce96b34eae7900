"""The console: a redrawn bar with throughput and ETA on a terminal, summary lines everywhere."""

from __future__ import annotations

import io

from netlang.train.progress import Progress, epoch_counter

ROW = {
    "epoch": 2,
    "train_loss": 0.5,
    "train_accuracy": 0.75,
    "val_loss": 0.25,
    "val_accuracy": 0.875,
    "lr": 0.001,
    "seconds": 1.25,
}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_loss_accuracy_throughput_and_eta() -> None:
    stream, lines = _Terminal(), []
    progress = Progress(5, lines.append, stream)
    progress.start_epoch()
    progress.batch(1, 10, 10, 640, 0.5, 0.75)
    bar = stream.getvalue()
    assert bar.startswith("\repoch 2/5 [") and "10/10 loss 0.5000 acc 75.00%" in bar
    assert "samples/s" in bar and "ETA 0:00" in bar
    progress.end_epoch(ROW, "  *")
    assert lines == [
        "epoch 2/5  train_loss 0.5000  train_acc 75.00%  val_loss 0.2500  "
        "val_acc 87.50%  lr 0.001  1.2s  *"
    ]


def test_a_pipe_gets_only_the_summary_lines() -> None:
    stream, lines = io.StringIO(), []
    progress = Progress(5, lines.append, stream)
    progress.start_epoch()
    progress.batch(1, 10, 10, 640, 0.5, None)
    progress.end_epoch({**ROW, "val_loss": None, "train_accuracy": None})
    assert stream.getvalue() == ""
    assert lines == ["epoch 2/5  train_loss 0.5000  train_acc -  lr 0.001  1.2s"]


def test_quiet_draws_no_bar_and_logs_no_epoch_lines() -> None:
    stream, lines = _Terminal(), []
    progress = Progress(5, lines.append, stream, quiet=True)
    progress.start_epoch()
    progress.batch(1, 10, 10, 640, 0.5, 0.75)
    progress.end_epoch(ROW)
    assert stream.getvalue() == "" and lines == []


def test_the_epoch_number_is_padded_to_the_width_of_the_total() -> None:
    assert [epoch_counter(e, 12) for e in (1, 9, 10, 12)] == [
        "epoch  1/12",
        "epoch  9/12",
        "epoch 10/12",
        "epoch 12/12",
    ]
    assert epoch_counter(3, 5) == "epoch 3/5" and epoch_counter(7, 100) == "epoch   7/100"
    lines: list[str] = []
    progress = Progress(12, lines.append, io.StringIO())
    for epoch in (9, 10):
        progress.end_epoch({**ROW, "epoch": epoch})
    assert lines[0].index("train_loss") == lines[1].index("train_loss")
