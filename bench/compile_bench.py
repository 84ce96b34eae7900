"""Compiler speed: parse + elaborate + shape-infer, in process after imports (median of runs).

    python bench/compile_bench.py [--runs 15]

Measures ResNet-152 (from the standard library), every model of the largest stdlib file, and
`netlang check` over the whole standard library, in-process and as a fresh process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from netlang.semantics.program import compile_source
from netlang.diagnostics.source import SourceFile

STDLIB = Path(__file__).resolve().parents[1] / "stdlib"


def median_ms(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def compile_model(path: Path, model: str) -> None:
    """Cold for the file: parse, load imports, elaborate one model."""
    program, diagnostics, _ = compile_source(SourceFile(path.name, path.read_text()))
    assert program is not None, diagnostics
    program.model(model)


def check_all(files: list[Path]) -> None:
    for path in files:
        program, _, _ = compile_source(SourceFile(path.name, path.read_text()))
        assert program is not None
        program.check()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    files = sorted(STDLIB.glob("*.net"))
    largest = max(files, key=lambda p: p.stat().st_size)
    compile_model(STDLIB / "resnet.net", "ResNet152")  # warm the parser tables
    print(f"machine: {sys.platform}, python {sys.version.split()[0]}, runs={runs} (median)")
    resnet = median_ms(lambda: compile_model(STDLIB / "resnet.net", "ResNet152"), runs)
    print(f"ResNet-152 parse+elaborate+infer:     {resnet:7.1f} ms")
    program, _, _ = compile_source(SourceFile(largest.name, largest.read_text()))
    assert program is not None
    models = program.models
    print(
        f"{largest.name} ({len(models)} models), all:  "
        f"{median_ms(lambda: [compile_model(largest, m) for m in models], runs):7.1f} ms"
    )
    checked = median_ms(lambda: check_all(files), max(3, runs // 3))
    print(f"check stdlib/*.net in process:        {checked:7.1f} ms")
    command = [sys.executable, "-m", "netlang.cli", "check", "-q", *map(str, files)]
    wall = median_ms(lambda: subprocess.run(command, check=True, capture_output=True), 5)
    print(f"`netlang check stdlib/*.net` process: {wall:7.1f} ms (including interpreter start-up)")


if __name__ == "__main__":
    main()
