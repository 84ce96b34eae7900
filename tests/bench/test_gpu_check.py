"""bench/gpu_check.sh, the GPU measurements waiting for a GPU: its dry run (every step tiny, on
CPU) must keep passing, so the script is ready the day a GPU is lent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("environment", "export", "inference", "training", "serving")


@pytest.mark.slow
def test_gpu_check_dry_run_passes_every_step_on_cpu() -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "bench/gpu_check.sh"), "--dry-run"],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        timeout=400,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()[-3000:]
    for step in STEPS:
        assert f"== {step}: ok" in out, out
    assert "largest relative gap of the loss curves" in out
    assert "serve, batching on (max 16), concurrency 16" in out
