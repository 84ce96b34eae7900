"""Training benchmarks of issue 3: `netlang train` wall clock and accuracy, the regularisation
table, and the training step time of compiled models against hand-written PyTorch.

    python bench/train_bench.py lenet           # netlang train examples/lenet.net: time, accuracy
    python bench/train_bench.py mnist           # examples/lenet_mnist.net: MNIST 8,000 / 2,000
    python bench/train_bench.py regularization  # the four MLPs of examples/mlp_regularization.net
    python bench/train_bench.py steps           # step time vs hand-written LeNet-5 / ResNet-18

Every timing quotes the load average, because the machine is shared; the step comparison
interleaves the two implementations round by round and reports medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NETLANG = [sys.executable, "-m", "netlang.cli"]
REGULARIZED = ("MLPPlain", "MLPL2", "MLPDropout", "MLPEarlyStop")


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def train_command(
    file: str, out: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[float, dict[str, Any]]:
    """Run `netlang train FILE --out OUT ...` as a fresh process; (wall seconds, test.json)."""
    started = time.perf_counter()
    subprocess.run(
        [*NETLANG, "train", file, "--out", str(out), *extra],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    seconds = time.perf_counter() - started
    return seconds, json.loads((out / "test.json").read_text())


def bench_lenet(args: argparse.Namespace) -> None:
    """The acceptance command as shipped, and the same with OMP_NUM_THREADS=1 for comparison."""
    variants: list[tuple[str, dict[str, str]]] = [("netlang train examples/lenet.net", {})]
    if args.single_thread_too:
        variants.append(
            ("OMP_NUM_THREADS=1 netlang train examples/lenet.net", {"OMP_NUM_THREADS": "1"})
        )
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for k, (label, env) in enumerate(variants):
                before = load()
                seconds, test = train_command(
                    "examples/lenet.net", Path(tmp) / f"run{round_}-{k}", env=env
                )
                print(
                    f"{label}: {seconds:.1f} s wall, test accuracy "
                    f"{100 * test['accuracy']:.2f}% on {test['examples']} "
                    f"(load before {before}, after {load()})",
                    flush=True,
                )


def bench_mnist(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        before = load()
        seconds, test = train_command("examples/lenet_mnist.net", out, env=_threads(args))
        config = json.loads((out / "config.json").read_text())
        print(
            f"netlang train examples/lenet_mnist.net: {seconds:.1f} s wall, "
            f"examples {config['examples']}, held-out accuracy {100 * test['accuracy']:.2f}% "
            f"on {test['examples']} (load before {before}, after {load()})"
        )


def _threads(args: argparse.Namespace) -> dict[str, str]:
    """OMP_NUM_THREADS for the child: on a loaded 2-core machine OpenMP's spinning threads make
    2-thread runs of small models up to 10x slower than 1-thread ones (bench/train_results.md)."""
    return {"OMP_NUM_THREADS": str(args.omp_threads)} if args.omp_threads else {}


def bench_regularization(args: argparse.Namespace) -> None:
    """Train the four MLPs; a markdown table of the final weights' train/val accuracy and loss."""
    out = Path(args.out)
    rows = []
    for model in REGULARIZED:
        seconds, test = train_command(
            "examples/mlp_regularization.net", out / model, "--model", model, env=_threads(args)
        )
        rows.append(_regularization_row(model, out / model, test))
        print(f"{model}: {seconds:.1f} s (load {load()})", flush=True)
    print(
        "\n| model | epochs run | final weights: epoch | train acc | val acc | gap | train loss "
        "| val loss | lowest val loss (epoch) | test acc |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    print("\n".join(rows))
    print(f"\ncurves: {out}/<model>/curves.png")


def _regularization_row(model: str, run: Path, test: dict[str, Any]) -> str:
    """The metrics of the epoch whose weights the run ends with (the best one when early
    stopping restores it, else the last); train accuracy is the epoch's running mean."""
    history = json.loads((run / "metrics.json").read_text())
    stop = json.loads((run / "config.json").read_text())["config"]["early_stop"]
    best = min(history, key=lambda row: row["val_loss"])
    final = best if stop and stop["restore_best"] else history[-1]
    gap = final["train_accuracy"] - final["val_accuracy"]
    return (
        f"| {model} | {len(history)} | {final['epoch']} | "
        f"{100 * final['train_accuracy']:.1f}% | {100 * final['val_accuracy']:.1f}% | "
        f"{100 * gap:.1f} pt | {final['train_loss']:.4f} | {final['val_loss']:.3f} | "
        f"{best['val_loss']:.3f} ({best['epoch']}) | {100 * test['accuracy']:.1f}% |"
    )


# --- step time: compiled vs hand-written ----------------------------------------------------------


def hand_lenet() -> Any:
    """LeNet-5 of examples/lenet.net, written by hand."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.Tanh(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )


def compiled(source: str, model: str, **arguments: Any) -> Any:
    import netlang
    from netlang.backends.torch_module import to_torch

    return to_torch(netlang.load(source).model(model, **arguments), seed=0)


def same_weights(ours: Any, theirs: Any) -> None:
    """Copy our weights into the reference, in state_dict order (shapes must match one to one)."""
    import torch

    mine, other = ours.state_dict(), theirs.state_dict()
    assert [v.shape for v in mine.values()] == [v.shape for v in other.values()], "not the same net"
    with torch.no_grad():
        for a, b in zip(mine.values(), other.values()):
            b.copy_(a)


def make_step(module: Any, x: Any, y: Any) -> Callable[[], None]:
    """Forward + cross-entropy + backward + SGD-momentum step, as the trainer does."""
    import torch
    import torch.nn.functional as F

    module.train()
    optimizer = torch.optim.SGD(module.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(module(x), y).backward()
        optimizer.step()

    return step


def time_pair(
    name: str, steps: dict[str, Callable[[], None]], rounds: int, per_round: int, warmup: int
) -> None:
    """Interleave the implementations round by round; median milliseconds per step."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {label: [] for label in steps}
    for round_ in range(rounds):
        order = list(steps.items())
        for label, step in order if round_ % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            for _ in range(per_round):
                step()
            times[label].append((time.perf_counter() - started) / per_round * 1e3)
    medians = {label: statistics.median(t) for label, t in times.items()}
    ours, reference = medians["netlang"], medians["reference"]
    paired = statistics.median(a / b for a, b in zip(times["netlang"], times["reference"]))
    print(
        f"{name}: netlang {ours:.2f} ms/step, reference {reference:.2f} ms/step, "
        f"ratio of medians {ours / reference:.3f}, median of per-round ratios {paired:.3f} "
        f"(rounds {rounds} x {per_round} steps; per-round "
        f"netlang {[round(t, 1) for t in times['netlang']]}, "
        f"reference {[round(t, 1) for t in times['reference']]}; load {load()})",
        flush=True,
    )


def bench_steps(args: argparse.Namespace) -> None:
    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load {load()}")
    x, y = torch.randn(args.lenet_batch, 1, 32, 32), torch.randint(0, 10, (args.lenet_batch,))
    ours, theirs = compiled(str(REPO / "examples/lenet.net"), "LeNet5"), hand_lenet()
    same_weights(ours, theirs)
    time_pair(
        f"LeNet-5, batch {args.lenet_batch}, 1x32x32",
        {"netlang": make_step(ours, x, y), "reference": make_step(theirs, x, y)},
        args.rounds,
        args.lenet_steps,
        warmup=10,
    )
    size, batch = args.resnet_size, args.resnet_batch
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,))
    ours = compiled('import "resnet"\n', "ResNet18", classes=10, size=size)
    theirs = torchvision.models.resnet18(num_classes=10)
    same_weights(ours, theirs)
    time_pair(
        f"ResNet-18, batch {batch}, 3x{size}x{size}",
        {"netlang": make_step(ours, x, y), "reference": make_step(theirs, x, y)},
        args.rounds,
        args.resnet_steps,
        warmup=2,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lenet = commands.add_parser("lenet")
    lenet.add_argument("--rounds", type=int, default=1)
    lenet.add_argument(
        "--single-thread-too",
        action="store_true",
        help="also time the command with OMP_NUM_THREADS=1, interleaved",
    )
    mnist = commands.add_parser("mnist")
    regularization = commands.add_parser("regularization")
    for command in (mnist, regularization):
        command.add_argument(
            "--omp-threads",
            type=int,
            default=1,
            help="OMP_NUM_THREADS of the training process (0: leave unset)",
        )
    regularization.add_argument("--out", default="runs/regularization")
    steps = commands.add_parser("steps")
    steps.add_argument("--threads", type=int, default=1)
    steps.add_argument("--rounds", type=int, default=15)
    steps.add_argument("--lenet-batch", type=int, default=32)
    steps.add_argument("--lenet-steps", type=int, default=40)
    steps.add_argument("--resnet-size", type=int, default=32)
    steps.add_argument("--resnet-batch", type=int, default=32)
    steps.add_argument("--resnet-steps", type=int, default=3)
    args = parser.parse_args()
    {
        "lenet": bench_lenet,
        "mnist": bench_mnist,
        "regularization": bench_regularization,
        "steps": bench_steps,
    }[args.command](args)


if __name__ == "__main__":
    main()
