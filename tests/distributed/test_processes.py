"""Two gloo workers on 127.0.0.1, started by `netlang train --nproc 2` or by torchrun itself:
their weights match one process's, they stop together, and a killed worker leaves a run that
resumes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from netlang.train.distributed import free_port
from netlang.train.run import train_file

pytestmark = pytest.mark.slow


def _metrics(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def _column(run: Path, name: str) -> list[float]:
    return [float(row[name]) for row in _metrics(run)]


def test_two_processes_end_with_the_weights_of_one(
    project: Callable[..., Path], netlang: Any
) -> None:
    """Same global batch and seed: rank r trains on every other sample of each global batch, DDP
    averages the two equal-sized halves' gradients and synchronised batch norm normalises with
    the whole batch's statistics, so each step equals one process's step on the whole batch (no
    dropout, whose masks could not match)."""
    path = project("sync_bn true")
    one, two = path.parent / "one", path.parent / "two"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = train_file(path, None, {"out": str(one)}, log=lambda line: None)
    finally:
        torch.set_num_threads(threads)
    assert len(single.history) == 3
    examples = json.loads((one / "config.json").read_text())["examples"]["train"]
    assert examples % 2 == 0  # no sample is left out of the two ranks' shards

    result = netlang("train", str(path), "--nproc", "2", "--out", str(two), cwd=path.parent)
    assert result.returncode == 0, result.stderr
    assert "batch 32 = 2 ranks x 16" in result.stdout
    assert result.stdout.count("epoch 3/3") == 1  # rank 0 alone prints

    expected, actual = (
        load_file(str(one / "checkpoints" / "last.safetensors")),
        load_file(str(two / "checkpoints" / "last.safetensors")),
    )
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(
            actual[name],
            expected[name],
            rtol=1e-4,
            atol=1e-5,
            msg=lambda m, name=name: f"{name}: {m}",
        )
    for column in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        assert _column(two, column) == pytest.approx(_column(one, column), rel=1e-4, abs=1e-6)


def test_torchrun_workers_stop_early_at_the_same_epoch(
    project: Callable[..., Path], worker_env: dict[str, str]
) -> None:
    """Under torchrun itself (the multi-node entry point), every rank sees the all-reduced
    val_loss, so all stop after epoch 2; a rank that went on would wait for its peer in the next
    epoch's collectives and fail the job instead of letting it exit 0."""
    path = project("early_stop monitor=val_loss patience=1 min_delta=100", epochs=20)
    run = path.parent / "run"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        "2",
        "--rdzv-backend",
        "static",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(free_port()),
        "--local-addr",
        "127.0.0.1",
        "-m",
        "netlang",
        "train",
        str(path),
        "--out",
        str(run),
    ]
    result = subprocess.run(
        command,
        cwd=path.parent,
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "early stop after epoch 2" in result.stdout
    assert len(_metrics(run)) == 2
    assert (run / "test.json").is_file() is False  # the split has no test part
    assert "no test split" in result.stdout


def _worker(launcher: int, rank: int) -> int:
    """The pid of the launcher's child process that torchrun gave RANK=`rank`."""
    for task in Path(f"/proc/{launcher}/task").iterdir():
        for pid in (task / "children").read_text().split():
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if f"RANK={rank}".encode() in environ:
                return int(pid)
    raise LookupError(f"no worker with RANK={rank} under pid {launcher}")


def _wait_for_checkpoint(run: Path, launcher: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while not (run / "checkpoints" / "state.pt").is_file():
        assert launcher.poll() is None, launcher.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 90 s"
        time.sleep(0.05)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds workers through /proc")
def test_a_killed_worker_fails_the_job_and_the_run_resumes(
    project: Callable[..., Path], netlang: Any, worker_env: dict[str, str]
) -> None:
    path = project(epochs=400)
    run = path.parent / "run"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "netlang", "train", str(path), "--nproc", "2", "--out", str(run)],
        cwd=path.parent,
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_checkpoint(run, launcher)
        os.kill(_worker(launcher.pid, 1), signal.SIGKILL)
        out, err = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    assert launcher.returncode == 1, err
    message = err.strip().splitlines()[-1]
    assert message.startswith("error: worker rank 1") and "killed by signal SIGKILL" in message
    assert f"--nproc 2 --resume --out {run}" in message

    state = torch.load(run / "checkpoints" / "state.pt", weights_only=True)
    load_file(str(run / "checkpoints" / "last.safetensors"))  # whole
    done = state["epoch"]
    assert 1 <= done < 400 and len(_metrics(run)) == done and len(state["rank_rng"]) == 2
    before = _metrics(run)

    resumed = netlang(
        "train",
        str(path),
        "--nproc",
        "2",
        "--resume",
        "--out",
        str(run),
        "--epochs",
        str(done + 1),
        cwd=path.parent,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {run} at epoch {done + 1}" in resumed.stdout
    after = _metrics(run)
    assert len(after) == done + 1 and after[:done] == before
