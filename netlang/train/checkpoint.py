"""Checkpoints: module weights <-> safetensors files, training state <-> a weights-only torch file.

Training state holds only tensors and plain Python values, so `torch.load(weights_only=True)`
reads it back; files are written to a temporary name and renamed, so a Ctrl-C never leaves half a
checkpoint behind, and `signals_held` keeps a SIGTERM (how torchrun stops the workers of a failed
job) from landing between the weights and the state of one epoch.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

LAST = "last.safetensors"
BEST = "best.safetensors"
STATE = "state.pt"


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the module's state_dict (the in-memory 'best weights')."""
    return {
        name: tensor.detach().to("cpu", copy=True).contiguous()
        for name, tensor in module.state_dict().items()
    }


def save_weights(path: Path, weights: dict[str, torch.Tensor]) -> None:
    tmp = path.with_suffix(".tmp")
    save_file(weights, str(tmp))
    os.replace(tmp, path)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(path, weights_only=True, map_location="cpu")
    return state


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Defer SIGTERM and SIGINT until the block ends (where the platform can)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGTERM, signal.SIGINT}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def rng_state() -> dict[str, Any]:
    """The global generators that dropout and friends draw from, as tensors."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
