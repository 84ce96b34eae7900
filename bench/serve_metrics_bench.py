"""Serving overhead of a change, side by side: this checkout's `netlang serve` against the one at
git REF (unpacked with `git archive`), LeNet, binary batch-1 requests over 16 keep-alive
connections, --workers 1 and 2, in interleaved rounds -> median requests/s and the ratio.

    python bench/serve_metrics_bench.py --before bc2e07a [--rounds 5] [--seconds 3]

Written for the move of /metrics to prometheus_client (bc2e07a hand-wrote the exposition).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

from serve_bench import MODELS, free_port, server_slice

REPO = Path(__file__).resolve().parents[1]
LENET = MODELS["lenet"]


def unpack(ref: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
    )
    (into / "archive.tar").write_bytes(archive.stdout)
    with tarfile.open(into / "archive.tar") as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def start(tree: Path, model: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, "-c", "from netlang.cli import main; main()", "serve", str(model)]
    command += ["--name", "model", "--port", str(port), "--workers", str(workers), "-q"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    process = subprocess.Popen(command, cwd=tree, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1):
                time.sleep(2 * workers)  # let every worker finish loading
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"netlang serve from {tree} did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="git ref of the code to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "lenet.onnx"
        LENET.make(model, 32)
        trees = {"before": unpack(args.before, Path(tmp)), "after": REPO}
        servers = {
            (name, workers): start(tree, model, workers)
            for name, tree in trees.items()
            for workers in (1, 2)
        }
        rates: dict[tuple[str, int], list[float]] = {key: [] for key in servers}
        try:
            for _ in range(args.rounds):
                for key, (_, port) in servers.items():
                    rows, _, seconds = server_slice(
                        port, LENET, args.concurrency, 1, 32, args.seconds
                    )
                    rates[key].append(rows / seconds)
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait()
    print(f"| workers | before req/s | after req/s | after/before |  (c={args.concurrency})")
    for workers in (1, 2):
        before = statistics.median(rates[("before", workers)])
        after = statistics.median(rates[("after", workers)])
        print(f"| {workers} | {before:.0f} | {after:.0f} | {after / before:.2f} |")


if __name__ == "__main__":
    main()
