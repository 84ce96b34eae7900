"""The GPU path, measured in one go (driven by bench/gpu_check.sh; about 4 minutes on one GPU).

    bench/gpu_check.sh [--dry-run] [--cifar DIR]

Steps, each printed as it finishes (a failed step says why; the others still run):
1. environment: the GPU, torch's CUDA, onnxruntime's usable providers;
2. export: `netlang compile` of ResNet-18 in float32 and with `--fp16` (process seconds);
3. inference: `session.run` latency (batch 1) and throughput (batch 32) of both files on CPU,
   CUDA and TensorRT (where it loads; float32 file), and `netlang predict` as a process;
4. training: `netlang train --device cuda --amp` vs fp32 on CIFAR-10 (ResNet-18, 32x32):
   images/s per epoch and both loss curves, with their largest relative gap;
5. serving: bench/serve_bench.py on the GPU (batching off vs on at concurrency 16).

`--dry-run` runs every step on CPU with tiny sizes (CI runs it; it must pass in under a minute).
Without a CIFAR-10 folder (`--cifar`, default ../shared/data/cifar10_jpg) training uses a
synthetic CIFAR-shaped data set and says so.
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
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}


@dataclass(frozen=True)
class Plan:
    """Sizes and devices of one check: the real one, or the dry run's tiny CPU stand-in."""

    dry: bool
    size: int  # image side of the inference model
    runs: int  # session.run calls per measurement
    epochs: int
    batch: int
    train_images: int | None  # None: the whole training folder
    serve: list[str]  # serve_bench.py arguments

    @property
    def devices(self) -> list[str]:
        return ["cpu"] if self.dry else ["cpu", "cuda", "tensorrt"]

    @property
    def train_device(self) -> str:
        return "cpu" if self.dry else "cuda"


REAL = Plan(False, 224, 30, 4, 128, None, ["--rounds", "2", "--seconds", "3", "--device", "cuda"])
DRY = Plan(True, 32, 2, 1, 8, 20, ["--rounds", "1", "--seconds", "0.2", "--size", "32"])


def netlang(*args: str, timeout: float = 240) -> float:
    """Run the CLI as a fresh process; its wall seconds (raises with its output on failure)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "netlang", *args], env=ENV, capture_output=True, timeout=timeout
    )
    if done.returncode:
        raise RuntimeError(f"netlang {' '.join(args)}: {(done.stdout + done.stderr).decode()}")
    return time.perf_counter() - start


def environment(plan: Plan, work: Path) -> list[str]:
    import onnxruntime as ort
    import torch

    from netlang.runtime.device import CUDA, TENSORRT, provider_usable

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        f"GPU: {gpu}; torch {torch.__version__} (CUDA {torch.version.cuda}); "
        f"onnxruntime {ort.__version__}, usable: CUDA {provider_usable(CUDA)}, "
        f"TensorRT {provider_usable(TENSORRT)}"
    ]
    if not plan.dry and gpu == "none":
        raise RuntimeError("torch sees no CUDA device")
    return lines


def export(plan: Plan, work: Path) -> list[str]:
    resnet = str(ROOT / "stdlib/resnet.net")
    common = ["--model", "ResNet18", "--set", "classes=10", "--set", f"size={plan.size}"]
    fp32 = netlang("compile", resnet, *common, "-o", str(work / "fp32.onnx"))
    fp16 = netlang("compile", resnet, *common, "--fp16", "-o", str(work / "fp16.onnx"))
    return [
        f"netlang compile ResNet-18 ({plan.size}x{plan.size}): fp32 {fp32:.2f} s, fp16 {fp16:.2f} s"
    ]


def inference(plan: Plan, work: Path) -> list[str]:
    from netlang.runtime.device import DeviceError
    from netlang.runtime.session import make_session, provider_of

    lines = ["| device | file | provider | batch 1 ms (median) | batch 32 images/s |"]
    lines.append("| --- | --- | --- | ---: | ---: |")
    rng = np.random.default_rng(0)
    for device in plan.devices:
        for precision in ("fp32",) if device == "tensorrt" else ("fp32", "fp16"):
            try:
                session = make_session(work / f"{precision}.onnx", device)
            except DeviceError as error:
                lines.append(f"| {device} | {precision} | not usable: {error} | | |")
                continue
            name = session.get_inputs()[0].name
            timings = {}
            for batch in (1, 32):
                x = rng.standard_normal((batch, 3, plan.size, plan.size)).astype(np.float32)
                session.run(None, {name: x})  # warm-up (TensorRT builds its engine here)
                runs = []
                for _ in range(plan.runs):
                    start = time.perf_counter()
                    session.run(None, {name: x})
                    runs.append(time.perf_counter() - start)
                timings[batch] = statistics.median(runs)
            lines.append(
                f"| {device} | {precision} | {provider_of(session)} | {timings[1] * 1e3:.2f} "
                f"| {32 / timings[32]:.0f} |"
            )
    image = work / "image.npy"
    np.save(image, rng.standard_normal((3, plan.size, plan.size)).astype(np.float32))
    for device in plan.devices[:2]:
        seconds = netlang("predict", str(work / "fp32.onnx"), str(image), "--device", device)
        lines.append(f"netlang predict --device {device} (process): {seconds:.2f} s")
    return lines


def training(plan: Plan, work: Path, cifar: Path) -> list[str]:
    data, note = _cifar_call(plan, work, cifar)
    source = work / "cifar.net"
    source.write_text(
        'import "resnet"\n\n'
        "model CifarResNet18(classes: int = 10, size: int = 32) = ResNet18() {\n"
        '    "ResNet-18 on 32x32 images."\n}\n\n'
        "train CifarResNet18 {\n"
        f"    data      {data}\n"
        f"    batch     {plan.batch}\n"
        f"    epochs    {plan.epochs}\n"
        "    optimizer sgd(lr=0.05, momentum=0.9)\n"
        "    augment   [random_crop(32, padding=4), hflip]\n"
        "    seed      0\n}\n"
    )
    curves = {}
    for precision, flag in (("amp", "--amp"), ("fp32", "--no-amp")):
        out = work / f"run-{precision}"
        netlang(
            "train",
            str(source),
            "--device",
            plan.train_device,
            flag,
            "--out",
            str(out),
            "--quiet",
            timeout=400,
        )
        curves[precision] = json.loads((out / "metrics.json").read_text())
    lines = [note, "| epoch | amp loss | fp32 loss | amp images/s | fp32 images/s |"]
    lines.append("| ---: | ---: | ---: | ---: | ---: |")
    images = int((plan.train_images or 5000) * 0.8)  # the training part of the split
    for amp, fp32 in zip(curves["amp"], curves["fp32"], strict=True):
        lines.append(
            f"| {amp['epoch']} | {amp['train_loss']:.4f} | {fp32['train_loss']:.4f} "
            f"| {images / amp['seconds']:.0f} | {images / fp32['seconds']:.0f} |"
        )
    gap = max(
        abs(a["train_loss"] - f["train_loss"]) / f["train_loss"]
        for a, f in zip(curves["amp"], curves["fp32"], strict=True)
    )
    lines.append(f"largest relative gap of the loss curves: {gap:.3f}")
    return lines


def _cifar_call(plan: Plan, work: Path, cifar: Path) -> tuple[str, str]:
    """The data entry: the CIFAR-10 JPEG folder, or a synthetic stand-in when there is none
    (and in the dry run, which only checks that the step works)."""
    if (cifar / "train").is_dir() and not plan.dry:
        return (
            f'image_folder("{cifar / "train"}", size=32, split=[0.8, 0.2])',
            f"data: CIFAR-10 JPEGs from {cifar / 'train'}",
        )
    rng = np.random.default_rng(0)
    count = plan.train_images or 5000
    y = rng.integers(0, 10, count)
    x = rng.normal(0, 1, (count, 3, 32, 32)).astype(np.float32) + y[:, None, None, None] / 10
    np.savez(work / "cifar.npz", x=x, y=y)
    return (
        f'npz("{work / "cifar.npz"}", split=[0.8, 0.2])',
        f"data: {count} synthetic CIFAR-shaped arrays"
        + ("" if plan.dry else f" ({cifar} has no train/ folder)"),
    )


def serving(plan: Plan, work: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench/serve_bench.py"), *plan.serve],
        env=ENV,
        capture_output=True,
        timeout=240,
    )
    if done.returncode:
        raise RuntimeError((done.stdout + done.stderr).decode()[-3000:])
    return done.stdout.decode().strip().splitlines()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="every step tiny, on CPU")
    parser.add_argument("--cifar", type=Path, default=ROOT.parent / "shared/data/cifar10_jpg")
    args = parser.parse_args()
    plan = DRY if args.dry_run else REAL
    steps: list[tuple[str, Callable[[Path], list[str]]]] = [
        ("environment", lambda work: environment(plan, work)),
        ("export", lambda work: export(plan, work)),
        ("inference", lambda work: inference(plan, work)),
        ("training", lambda work: training(plan, work, args.cifar)),
        ("serving", lambda work: serving(plan, work)),
    ]
    failed = []
    begun = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, step in steps:
            start = time.perf_counter()
            try:
                lines = step(Path(tmp))
                status = "ok"
            except Exception:  # noqa: BLE001 - report the step and go on with the others
                lines, status = traceback.format_exc().splitlines()[-12:], "FAILED"
                failed.append(name)
            print(f"== {name}: {status} ({time.perf_counter() - start:.1f} s)", flush=True)
            print("\n".join(lines), flush=True)
    print(f"== done in {time.perf_counter() - begun:.0f} s; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
