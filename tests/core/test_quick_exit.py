"""`netlang` as a process: the commands that skip the interpreter's teardown (netlang.cli's
QUICK_EXIT) still end as Python's exit would: status, every byte of output, atexit handlers."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import onnx
from click.testing import CliRunner

from netlang import cli

REPO = Path(__file__).resolve().parents[2]
LENET = str(REPO / "examples" / "lenet.net")
# Registers an atexit handler before the CLI starts, as coverage or a profiler would.
WRAPPED = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
    "sys.argv = ['netlang', *sys.argv[1:]]\n"
    "runpy.run_module('netlang', run_name='__main__')\n"
)


def netlang(*args: str, first: str = "") -> subprocess.CompletedProcess[str]:
    """`netlang ARGS` as a process, running the Python code `first` before the CLI starts."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", first + WRAPPED, *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
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


# Prints the collector's thresholds as the process ends (after the command has run).
THRESHOLDS = "import atexit, gc; atexit.register(lambda: print('gc', gc.get_threshold()))\n"


def test_only_a_quick_exit_program_collects_rarely() -> None:
    summary = netlang("summary", LENET, first=THRESHOLDS)
    assert summary.returncode == 0 and summary.stdout.endswith(f"gc {cli.RARE_COLLECTIONS}\n")
    fmt = netlang("fmt", "--check", LENET, first=THRESHOLDS)  # not a QUICK_EXIT command
    assert fmt.returncode == 0 and fmt.stdout.endswith(f"gc {gc.get_threshold()}\n")
    before = gc.get_threshold()
    assert CliRunner().invoke(cli.main, ["summary", LENET]).exit_code == 0  # called in a process
    assert gc.get_threshold() == before
