"""Early stopping: a stream of per-epoch metric values -> "improved?" and "stop now?" decisions.

Pure bookkeeping, no torch: the loop snapshots the weights whenever `update` says the epoch is the
best so far, and restores that snapshot at the end when `restore_best` is set.
"""

from __future__ import annotations

from typing import Any


class EarlyStopping:
    """Tracks the best value of one metric; `patience=None` tracks without ever stopping.

    An epoch improves when it beats the best by more than `min_delta` (below it for mode "min",
    above it for "max"). Training stops once `patience` epochs in a row have not improved.
    """

    def __init__(
        self, monitor: str, mode: str = "min", patience: int | None = None, min_delta: float = 0.0
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"early stopping mode must be min or max, got {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.min_delta = min_delta
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0

    def is_better(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, value: float) -> bool:
        """Record `epoch`'s value; True when it is the new best."""
        if self.is_better(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True
        self.wait += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.wait > 0 and self.wait >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
