"""`netlang` as a process: the commands that skip the interpreter's teardown (netlang.cli's
QUICK_EXIT) still end as Python's exit would: status, every byte of output, atexit handlers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnx

REPO = Path(__file__).resolve().parents[2]
LENET = str(REPO / "examples" / "lenet.net")
# Registers an atexit handler before the CLI starts, as coverage or a profiler would.
WRAPPED = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
    "sys.argv = ['netlang', *sys.argv[1:]]\n"
    "runpy.run_module('netlang', run_name='__main__')\n"
)


def netlang(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", WRAPPED, *args], env=env, capture_output=True, text=True, cwd=REPO
    )


def test_quick_exit_keeps_status_output_and_atexit_handlers(tmp_path: Path) -> None:
    done = netlang("summary", LENET)
    assert done.returncode == 0 and "LeNet" in done.stdout and "atexit ran" in done.stderr
    bad = tmp_path / "bad.net"
    bad.write_text("model A { input x: float32[N, 2]\n y = x -> lineer(2)\n output y }")
    done = netlang("check", str(bad))
    assert done.returncode == 1 and "did you mean `linear`?" in done.stderr
    assert "atexit ran" in done.stderr
    assert netlang("check", str(tmp_path / "missing.net")).returncode == 2


def test_compile_as_a_process_leaves_a_whole_model(tmp_path: Path) -> None:
    out = tmp_path / "lenet.onnx"
    done = netlang("compile", LENET, "-o", str(out))
    assert done.returncode == 0 and f"wrote {out}" in done.stdout
    onnx.checker.check_model(onnx.load(str(out)))
    assert not [p.name for p in tmp_path.iterdir() if p.name != out.name]  # no temporary left
