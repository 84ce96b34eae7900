"""Training that uses the hardware: eager vs `channels_last` vs `compile` (and both), LeNet-5 on
the digits and ResNet-18 on CIFAR-10 JPEGs, plus the fraction of step time spent waiting for
data, in one run.

    python bench/train_hw_bench.py [--steps 20] [--rounds 3] [--batch 32] [--cifar DIR]

Every configuration trains through `netlang.train.loop.fit` (the code `netlang train` runs) for
one epoch of `--steps` full batches, with a loader that times each batch hand-off, in
`--rounds` interleaved rounds (each configuration keeps its module, so compilation happens in
round 1). Reported: images/s from the median step time (steps after each epoch's first three,
median over rounds), the time from calling fit to the end of the first step in round 1 (set-up
and compilation included), and the data wait: the time the loop spent in the loader (indexing,
augmentation) over the time of the steps. CIFAR-10 batches are augmented (random_crop(32,
padding=4), hflip), as a CIFAR run would be.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `netlang train` sets it, before torch

import torch  # noqa: E402

from netlang.backends.torch_module import to_torch  # noqa: E402
from netlang.data import DataSplits, Dataset, load_data, make_loader
from netlang.export.ship import build
from netlang.semantics.program import read_source
from netlang.semantics.train_spec import Call, TrainSpec
from netlang.train.config import resolve_config
from netlang.train.loop import fit

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {  # label -> train-section switches
    "eager": {},
    "channels_last": {"channels_last": True},
    "compile": {"compile": True},
    "channels_last + compile": {"channels_last": True, "compile": True},
}


class TimedEpoch:
    """The first `steps` full batches of an epoch, timing each hand-off to the training loop."""

    def __init__(self, batches: Any, steps: int, batch: int, samples: int) -> None:
        self.batches, self.steps = batches, min(steps, samples // batch)
        self.waits: list[float] = []
        self.marks: list[float] = []  # when each batch was handed over, then the epoch's end

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[Any]:
        batches = iter(self.batches)
        for _ in range(self.steps):
            start = time.perf_counter()
            batch = next(batches)
            self.marks.append(time.perf_counter())
            self.waits.append(self.marks[-1] - start)
            yield batch
        self.marks.append(time.perf_counter())


def train_once(
    module: torch.nn.Module,
    model: str,
    splits: DataSplits,
    switches: dict[str, Any],
    args: argparse.Namespace,
    augment: list[Call],
    workdir: Path,
) -> dict[str, float]:
    """One `fit` of one epoch of `args.steps` batches; the same module object in every round,
    so torch.compile compiles it in the first round only."""
    entries = {"batch": args.batch, "epochs": 1, "device": "cpu", "augment": augment, **switches}
    config = resolve_config(TrainSpec(model, entries), model)
    epochs: list[TimedEpoch] = []

    def loader(ds: Dataset, batch: int, **options: Any) -> Any:
        batches = make_loader(ds, batch, **options)
        if not options.get("shuffle"):
            return batches  # validation and test: not timed
        epochs.append(TimedEpoch(batches, args.steps, batch, len(ds)))
        return epochs[-1]

    start = time.perf_counter()
    fit(
        module,
        splits,
        config,
        workdir,
        source_text="",
        loader=loader,
        quiet=True,
        log=lambda _: None,
    )
    (epoch,) = epochs
    steps = [b - a for a, b in zip(epoch.marks, epoch.marks[1:])][3:]
    return {
        "step_s": statistics.median(steps),
        "first_step_s": epoch.marks[1] - start,
        "data_wait_fraction": sum(epoch.waits[1:]) / (epoch.marks[-1] - epoch.marks[0]),
    }


def small(splits: DataSplits, train: int, val: int) -> DataSplits:
    """The first `train` training samples and `val` validation samples (a short epoch)."""
    val_set = splits.val or splits.train
    return DataSplits(
        Dataset(splits.train.x[:train], splits.train.y[:train]),
        Dataset(val_set.x[:val], val_set.y[:val]),
        None,
        splits.classes,
        splits.input_shape,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--cifar", type=Path, default=ROOT.parent / "shared/data/cifar10_jpg")
    parser.add_argument("--models", nargs="+", default=["LeNet-5", "ResNet-18"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "loadavg_before": os.getloadavg(),
        "threads": torch.get_num_threads(),
    }
    samples = args.steps * args.batch
    start = time.perf_counter()
    digits = load_data(Call("digits", (), {"size": 32, "split": [0.8, 0.2]}))
    results["load_s"] = {"digits": time.perf_counter() - start}
    start = time.perf_counter()
    cifar = load_data(
        Call("image_folder", (), {"root": str(args.cifar / "train"), "split": [0.9, 0.1]})
    )
    results["load_s"]["CIFAR-10 JPEGs (5,000 decoded)"] = time.perf_counter() - start
    runs = {
        "LeNet-5": (ROOT / "examples/lenet.net", "LeNet5", {}, small(digits, samples, 64), []),
        "ResNet-18": (
            ROOT / "stdlib/resnet.net",
            "ResNet18",
            {"classes": 10, "size": 32},
            small(cifar, samples, 64),
            [Call("random_crop", (32,), {"padding": 4}), Call("hflip")],
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for label in args.models:
            source, model, arguments, splits, augment = runs[label]
            graph = build(read_source(source), model, arguments)
            modules = {name: to_torch(graph, seed=0) for name in args.configs}
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in args.configs}
            for round_ in range(args.rounds):  # interleaved: the host's load drifts
                for name in args.configs:
                    workdir = Path(tmp) / f"{model}-{round_}-{name.replace(' ', '')}"
                    rounds[name].append(
                        train_once(
                            modules[name], model, splits, CONFIGS[name], args, augment, workdir
                        )
                    )
                    print(f"{label} {name} round {round_}: {rounds[name][-1]}", flush=True)
            results[label] = {
                name: {
                    "images_per_s": args.batch / statistics.median(r["step_s"] for r in runs_),
                    "first_step_s": runs_[0]["first_step_s"],
                    "data_wait_fraction": statistics.median(r["data_wait_fraction"] for r in runs_),
                }
                for name, runs_ in rounds.items()
            }
    results["loadavg_after"] = os.getloadavg()
    print(json.dumps({k: results[k] for k in ("loadavg_before", "loadavg_after", "load_s")}))
    print(report(results, args.models))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def report(results: dict[str, Any], models: list[str]) -> str:
    lines = [
        "| model | configuration | images/s | vs eager | first step s | data wait |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for label in models:
        eager = results[label]["eager"]["images_per_s"]
        for name, r in results[label].items():
            lines.append(
                f"| {label} | {name} | {r['images_per_s']:.1f} | {r['images_per_s'] / eager:.2f}x "
                f"| {r['first_step_s']:.1f} | {100 * r['data_wait_fraction']:.1f}% |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
