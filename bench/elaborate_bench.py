"""Elaboration speed of stdlib/resnet.net, this checkout against another, side by side.

    python bench/elaborate_bench.py [--rounds 20] [--against /tmp/main-checkout]

A worker process per checkout (PYTHONPATH set to it) parses the file once, then each round
checks all of it from a fresh Program (its 6 models and ResNet's shape test: 7 elaborations,
what the language server redoes after a keystroke in `ResNet`) and elaborates ResNet-152 alone.
The workers take turns round by round, so both see the same load; medians in ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def worker() -> None:
    """Answer each line on stdin with one round's times: `check_ms model_ms`."""
    from netlang.semantics.program import Program, load

    loaded = load(REPO / "stdlib" / "resnet.net")
    for _ in sys.stdin:
        start = time.perf_counter()
        Program(loaded.root, loaded.sources).check()
        middle = time.perf_counter()
        Program(loaded.root, loaded.sources).model("ResNet152")
        end = time.perf_counter()
        print(f"{(middle - start) * 1000:.3f} {(end - middle) * 1000:.3f}", flush=True)


def start(checkout: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--worker"],
        cwd=checkout,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker()
        return
    trees = {"this": REPO, **({"against": options.against} if options.against else {})}
    workers = {name: start(path) for name, path in trees.items()}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    print(f"load average before: {os.getloadavg()}")
    for round_ in range(options.rounds + 1):  # round 0 warms each worker
        for name, process in workers.items():
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write("\n")
            process.stdin.flush()
            check, model = map(float, process.stdout.readline().split())
            if round_:
                times[name].append((check, model))
    for process in workers.values():
        assert process.stdin is not None
        process.stdin.close()
        process.wait()
    print(f"load average after: {os.getloadavg()}")
    print(f"{'checkout':<8} {'check resnet.net (7 elaborations)':>34} {'ResNet152 alone':>16}")
    for name, rows in times.items():
        check = statistics.median(r[0] for r in rows)
        model = statistics.median(r[1] for r in rows)
        print(f"{name:<8} {check:>31.1f} ms {model:>13.1f} ms")


if __name__ == "__main__":
    main()
