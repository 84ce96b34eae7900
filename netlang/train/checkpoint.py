"""Checkpoints: module weights <-> safetensors files, training state <-> a weights-only torch file.

Training state holds only tensors and plain Python values, so `torch.load(weights_only=True)`
reads it back. Every file is written to a temporary name, flushed and renamed, so no kill leaves
half a file. The resume state is one file that also holds the last weights, so no kill can pair
weights and optimiser state from different moments; it names the best weights file it belongs
with by sha256, which `--resume` verifies. `signals_held` keeps a SIGTERM (how torchrun stops the
workers of a failed job) from landing between the files of one checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load, load_file, save

from netlang.backends.stored import damaged

LAST = "last.safetensors"
BEST = "best.safetensors"
STATE = "state.pt"


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the module's state_dict (the in-memory 'best weights')."""
    return {
        name: tensor.detach().to("cpu", copy=True).contiguous()
        for name, tensor in module.state_dict().items()
    }


def encode_weights(weights: dict[str, torch.Tensor]) -> bytes:
    """The safetensors file's bytes (so that its hash is known before it is written)."""
    return save(weights)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """`path` holds either its old content or all of `data`, whenever the process dies."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_weights(path: Path, weights: dict[str, torch.Tensor]) -> None:
    write_atomic(path, encode_weights(weights))


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def load_verified_weights(path: Path, digest: str) -> dict[str, torch.Tensor] | None:
    """The weights in `path` if its sha256 is `digest`, else None (a file from another moment)."""
    data = path.read_bytes() if path.is_file() else b""
    return load(data) if data and sha256(data) == digest else None


def save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(path: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = torch.load(path, weights_only=True, map_location="cpu")
    except (RuntimeError, EOFError, pickle.UnpicklingError) as problem:
        raise ValueError(
            f"cannot resume: {damaged(path, problem)}; start a new run (`netlang export` of the "
            "run still reads its best checkpoint)"
        ) from None
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


def write_checkpoint(
    folder: Path,
    state: dict[str, Any],
    last: dict[str, torch.Tensor],
    new_best: dict[str, torch.Tensor] | None,
    best_sha256: str | None,
) -> str | None:
    """Commit one checkpoint; returns the sha256 of the best weights file it belongs with.

    `state.pt` (the commit point) goes first and holds the last weights and the best file's hash;
    a `new_best` (always the last weights: a new best is found at an epoch's end) is written after
    it, then `last.safetensors`, which `export` and transfer learning read.
    """
    best_data = encode_weights(new_best) if new_best is not None else None
    digest = sha256(best_data) if best_data is not None else best_sha256
    record = {**state, "last": last, "best_sha256": digest, "best_is_last": best_data is not None}
    save_state(folder / STATE, record)
    if best_data is not None:
        write_atomic(folder / BEST, best_data)
    save_weights(folder / LAST, last)
    return digest


def read_checkpoint(
    folder: Path,
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, torch.Tensor] | None]:
    """(last weights, resume state, best weights or None), checked to belong together.

    A best file that is not the one the state was saved with is refused, unless the state says
    its best was its own last weights (the run died between the two writes): then those are the
    best, and the file is rewritten.
    """
    if not (folder / STATE).is_file():
        raise ValueError(f"nothing to resume: {folder / STATE} does not exist")
    state = load_state(folder / STATE)
    if "last" not in state:
        raise ValueError(
            f"cannot resume from {folder}: its {STATE} was written by an older netlang and does "
            "not hold the weights it belongs with; start a new run"
        )
    last = state.pop("last")
    if state["tracker"]["best_epoch"] is None:
        return last, state, None
    best = load_verified_weights(folder / BEST, state["best_sha256"])
    if best is None and state["best_is_last"]:
        best = dict(last)
        data = encode_weights(best)
        write_atomic(folder / BEST, data)
        state["best_sha256"] = sha256(data)
    if best is None:
        raise ValueError(
            f"cannot resume from {folder}: {BEST} is not the file {STATE} was saved with (their "
            "sha256 differ), so the two come from different moments; put back the matching "
            f"{BEST} or start a new run"
        )
    return last, state, best
