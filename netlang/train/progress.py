"""Console feedback: batch counters -> a progress bar redrawn on a terminal, a line per epoch.

When the stream is not a terminal (a log file, CI), only the summary lines are written.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

BAR_WIDTH = 24
REDRAW_SECONDS = 0.1


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def epoch_counter(epoch: int, epochs: int) -> str:
    """`epoch  9/12`: the number padded to the total's width, so the lines stay aligned."""
    return f"epoch {epoch:>{len(str(epochs))}}/{epochs}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


class Progress:
    def __init__(
        self,
        epochs: int,
        log: Callable[[str], Any],
        stream: TextIO | None = None,
        *,
        draw: bool = True,
        quiet: bool = False,
        metric: str = "accuracy",
    ) -> None:
        """`draw=False` never touches the terminal (ranks other than 0 of a distributed run);
        `quiet` also drops the per-epoch lines (`netlang train -q`)."""
        self.epochs = epochs
        self.log = log
        self.quiet = quiet
        self.metric = metric
        self.stream = stream if stream is not None else sys.stdout
        self.is_tty = draw and not quiet and self.stream.isatty()
        self.started = 0.0
        self.drawn = 0.0

    def start_epoch(self) -> None:
        self.started = self.drawn = time.perf_counter()

    def batch(
        self, epoch: int, done: int, total: int, samples: int, loss: float, accuracy: float | None
    ) -> None:
        """Redraw the bar (at most every REDRAW_SECONDS, and at the last batch)."""
        now = time.perf_counter()
        if not self.is_tty or (now - self.drawn < REDRAW_SECONDS and done < total):
            return
        self.drawn = now
        elapsed = max(now - self.started, 1e-9)
        filled = BAR_WIDTH * done // max(total, 1)
        eta = elapsed / max(done, 1) * (total - done)
        self.stream.write(
            f"\r{epoch_counter(epoch + 1, self.epochs)} [{'#' * filled:{BAR_WIDTH}}] "
            f"{done}/{total} loss {loss:.4f} {self._short()} {self._value(accuracy)} "
            f"{samples / elapsed:,.0f} samples/s ETA {_clock(eta)}\x1b[K"
        )
        self.stream.flush()

    def end_epoch(self, row: dict[str, Any], note: str = "") -> None:
        if self.is_tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        if self.quiet:
            return
        short, metric = self._short(), self.metric
        val = (
            ""
            if row.get("val_loss") is None
            else f"  val_loss {row['val_loss']:.4f}  "
            f"val_{short} {self._value(row.get(f'val_{metric}'))}"
        )
        self.log(
            f"{epoch_counter(row['epoch'], self.epochs)}  train_loss {row['train_loss']:.4f}  "
            f"train_{short} {self._value(row.get(f'train_{metric}'))}{val}  lr {row['lr']:.3g}  "
            f"{row['seconds']:.1f}s{note}"
        )

    def _short(self) -> str:
        return "acc" if self.metric == "accuracy" else self.metric

    def _value(self, value: float | None) -> str:
        if self.metric == "accuracy" or value is None:
            return _percent(value)
        return f"{value:.4f}"
