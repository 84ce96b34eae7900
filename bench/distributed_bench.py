"""Data-parallel training on this host: `netlang train --nproc N` against one process, in images
per second of training (the epochs' own timings, so start-up and the test pass are left out) and
in wall-clock time for the whole command.

    python bench/distributed_bench.py                       # CPU: 1 process (1 and 2 threads) vs 2
    python bench/distributed_bench.py --device cuda --nprocs 1 --threads 0

A small CNN on the built-in digits, upscaled to 32x32 so that a step is mostly compute; same
global batch and seed in every configuration. Each configuration runs `--repeats` times,
interleaved, and the table gives medians; the load average is quoted since the machine is shared.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE = """
model DigitsCNN(classes: int = 10) {
    input image: float32[N, 1, 32, 32]
    logits = image -> conv2d(16, kernel=3, padding=1) -> batchnorm2d -> relu -> maxpool2d(2)
                   -> conv2d(32, kernel=3, padding=1) -> batchnorm2d -> relu -> maxpool2d(2)
                   -> flatten -> linear(64) -> relu -> linear(classes)
    output logits
}

train DigitsCNN {
    data       digits(size = 32, split = [0.8, 0.1, 0.1])
    batch      BATCH
    epochs     EPOCHS
    optimizer  sgd(lr = 0.05, momentum = 0.9)
    sync_bn    SYNC
}
"""


def run(folder: Path, nproc: int, threads: int, device: str) -> tuple[float, float, float]:
    """One `netlang train` run: (train images/s after epoch 1, wall seconds, test accuracy)."""
    out = folder / f"run-{nproc}-{threads}-{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    command = [
        sys.executable,
        "-m",
        "netlang",
        "train",
        str(folder / "bench.net"),
        "--out",
        str(out),
        "--device",
        device,
        "--nproc",
        str(nproc),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    with open(out / "metrics.csv", newline="") as file:
        seconds = [float(row["seconds"]) for row in csv.DictReader(file)][1:]
    examples = int(_config_examples(out))
    accuracy = float(_test_accuracy(out))
    return examples * len(seconds) / sum(seconds), wall, accuracy


def _config_examples(out: Path) -> int:
    import json

    return int(json.loads((out / "config.json").read_text())["examples"]["train"])


def _test_accuracy(out: Path) -> float:
    import json

    return float(json.loads((out / "test.json").read_text())["accuracy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--nprocs", default="1,1,2", help="processes per configuration, comma-separated"
    )
    parser.add_argument(
        "--threads",
        default="1,2,1",
        help="OMP threads per process for each configuration (0: torch's default)",
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sync-bn",
        choices=["true", "false"],
        default="true",
        help="batch norm over the global batch (4 small all-reduces per layer "
        "and step) or per rank",
    )
    args = parser.parse_args()
    configs = list(
        zip((int(n) for n in args.nprocs.split(",")), (int(t) for t in args.threads.split(",")))
    )
    results: dict[tuple[int, int], list[tuple[float, float, float]]] = {c: [] for c in configs}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bench.net").write_text(
            SOURCE.replace("BATCH", str(args.batch))
            .replace("EPOCHS", str(args.epochs))
            .replace("SYNC", args.sync_bn)
        )
        for _ in range(args.repeats):
            for config in configs:
                loads.append(os.getloadavg()[0])
                results[config].append(run(folder, *config, args.device))
    base = statistics.median(r[0] for r in results[configs[0]])
    print(
        f"device {args.device}, global batch {args.batch}, sync_bn {args.sync_bn}, "
        f"{args.epochs} epochs "
        f"(images/s over epochs 2..{args.epochs}), {args.repeats} runs each, "
        f"1-min load average {min(loads):.2f}-{max(loads):.2f}, {os.cpu_count()} cores\n"
    )
    print(
        "| processes | threads each | train images/s | vs first row | wall s (whole command) "
        "| test accuracy |"
    )
    print("|---|---|---|---|---|---|")
    for (nproc, threads), rows in results.items():
        speed = statistics.median(r[0] for r in rows)
        print(
            f"| {nproc} | {threads or 'default'} | {speed:,.0f} | {speed / base:.2f}x | "
            f"{statistics.median(r[1] for r in rows):.1f} | "
            f"{statistics.median(r[2] for r in rows):.3f} |"
        )


if __name__ == "__main__":
    main()
