"""A small `.net` project on disk (blob features in an npz file) and a way to run `netlang train`
in worker processes: the distributed tests start real processes talking gloo on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

# 2 x 320 train samples after the 80/20 split below: every global batch of 32 splits in two.
SAMPLES = 400
SOURCE = """
model Blobs(classes: int = 3) {
    input x: float32[N, 6]
    logits = x -> linear(16) -> batchnorm1d -> relu -> linear(classes)
    output logits
}

train Blobs {
    data       npz("blobs.npz", split = [0.8, 0.2])
    batch      32
    epochs     EPOCHS
    optimizer  sgd(lr = 0.1, momentum = 0.9)
    device     "cpu"
    EXTRA
}
"""


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """Write blobs.npz and a Blobs model trained `epochs` epochs, its train section ending with
    `extra`; returns the model's path."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, SAMPLES)
    x = np.eye(3, 6, dtype=np.float32)[y] * 1.5 + rng.normal(size=(SAMPLES, 6)).astype(np.float32)
    np.savez(tmp_path / "blobs.npz", x=x.astype(np.float32), y=y.astype(np.int64))

    def write(extra: str = "", epochs: int = 3) -> Path:
        path = tmp_path / "blobs.net"
        path.write_text(SOURCE.replace("EXTRA", extra).replace("EPOCHS", str(epochs)))
        return path

    return write


@pytest.fixture
def worker_env() -> dict[str, str]:
    """The test's environment without torchrun's variables, one thread per process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def netlang(worker_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m netlang ARGS` in `cwd`, output captured."""

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "netlang", *args],
            cwd=cwd,
            env=worker_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run
