"""Export speed at the floor: `netlang compile` / `netlang export` as fresh processes vs
`torch.onnx.export` (default dynamo exporter and the legacy TorchScript one) vs writing the
same number of bytes to the same disk, for ResNet-50 and VGG-16, in one run.

    python -W ignore bench/export_bench.py [--rounds 5] [--models ResNet-50 VGG-16] [--json x]
                                           [--reference OTHER_CHECKOUT]

- netlang compile: `python -m netlang compile stdlib/M.net --model M -o x.onnx` (fresh weights),
  timed from process start to exit, interpreter start-up and imports included; its peak RSS
  from wait4.
- netlang export: `python -m netlang export RUN -o x.onnx`, RUN a run directory holding the
  same weights as a safetensors checkpoint.
- torch.onnx.export in this process (torch imported, model built and warmed up beforehand, so
  only the export is timed): `dynamo=True` (the default; needs onnxscript) and `dynamo=False`,
  opset 20, dynamic batch.
- floor: `write()` of a buffer the size of netlang's file into a new file in the same directory,
  in this process (no fsync — none of the others syncs either; the previous round's file is
  removed before the clock starts); also into the previous round's file, truncating it as
  `open(path, "wb")` does (ext4 then flushes it at close: the floor quoted before the third
  pass of issue 19); and as a fresh `python -c` process that imports numpy, allocates the
  buffer and writes it to a new file. netlang's processes replace the previous round's
  output, as a user recompiling does (removing the old file is inside their time).
- `--reference TREE`: also `netlang compile` / `netlang export` of another checkout (main
  before a change), in the same rounds, for a side by side of the two trees.
- Bytecode: the processes run as an installed netlang does, from compiled bytecode (pip compiles
  a wheel's modules when it installs them). A source tree run with PYTHONDONTWRITEBYTECODE set
  (as this project's sandbox sets it) compiles every netlang module from source in every
  process: ~60-90 ms of a VGG-16 export on this host, work no user's process does. So the
  children run with bytecode written and read under a private PYTHONPYCACHEPREFIX in the
  benchmark's temporary directory (filled by the warm-up runs; the same for every tree and for
  the floor process). `--no-bytecode` runs them as the environment says instead.

Rounds alternate all contenders; medians are quoted. Every contender starts after `os.sync()`,
so none pays for writing back the files of the one before (0.5 GB each: left dirty, they made
the next writer wait on the kernel's writeback, and the order of contenders decided the
figures). Also given: netlang's stage times in process (parse+elaborate, plan+emit, draw+write,
and the draws alone; for export, reading the run and emitting, then copying and writing), the
CPU seconds (user + system) of netlang's processes and of the floors (on a host shared with
other jobs the wall times mostly measure the wait for a core), and peak RSS over the weights'
size, gross and above the interpreter's baseline (the peak RSS of compiling LeNet-5).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from safetensors.numpy import save_file

from netlang.backends.onnx_emit import emit
from netlang.backends.onnx_write import write_onnx
from netlang.backends.weights import Drawn, init_weights, plan_weights
from netlang.export.ship import Trained, build, emit_trained, load_trained, onnx_metadata
from netlang.semantics.program import read_source

STDLIB = Path(__file__).resolve().parents[1] / "stdlib"
MODELS = {  # name -> (.net file, model, torchvision builder)
    "ResNet-50": ("resnet.net", "ResNet50", torchvision.models.resnet50),
    "VGG-16": ("vgg.net", "VGG16", torchvision.models.vgg16),
}
TREE = Path(__file__).resolve().parents[1]
# Runs the CLI and reports the process's own peak RSS (VmHWM: wait4's ru_maxrss would carry over
# the peak of this benchmark, which the child was forked from).
PEAK_RSS = (
    "import atexit, runpy, sys\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
    "    print('peak-rss-kb', status, file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "sys.argv = ['netlang', *sys.argv[1:]]\n"
    "runpy.run_module('netlang', run_name='__main__')\n"
)
FLOOR_PROCESS = (
    "import sys, numpy as np; b = np.empty(int(sys.argv[2]), np.uint8); b.fill(1); "
    "open(sys.argv[1], 'xb').write(b)"
)


# The environment of every timed process (`use_bytecode` sets where its bytecode is cached).
CHILD_ENV: dict[str, str] = dict(os.environ)


def use_bytecode(cache: Path) -> None:
    """Run the processes from compiled bytecode, cached under `cache` (see the docstring)."""
    CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(cache)


def process(args: list[str], tree: Path = TREE) -> tuple[float, float, float]:
    """Wall seconds of a fresh process (importing netlang from `tree`), its CPU seconds (user +
    system, all its threads: what a loaded host's wall time hides), and its peak RSS in MB
    where it reports one."""
    env = {**CHILD_ENV, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(  # in `tree`: `python -c` puts the working directory first on the path
        args, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode:
        raise RuntimeError(f"{args} failed: {done.stderr.decode()[-2000:]}")
    peak = [line.split()[1] for line in done.stderr.decode().splitlines() if "peak-rss-kb" in line]
    return seconds, cpu, int(peak[-1]) / 1024 if peak else float("nan")


def netlang(*args: str) -> list[str]:
    """The CLI as a fresh process that reports its peak RSS (the wrapper adds no imports)."""
    return [sys.executable, "-c", PEAK_RSS, *args]


def stages(net_file: Path, model: str, out: Path, run_dir: Path) -> dict[str, float]:
    """`netlang compile`'s stages, then `netlang export`'s, in process (`out` is replaced)."""
    times, start = {}, time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal start
        now = time.perf_counter()
        times[stage], start = now - start, now

    source = read_source(net_file)
    graph = build(source, model, {})
    lap("parse+elaborate")
    weights = plan_weights(graph, 0)  # as `netlang compile`: drawn while written
    emitted = emit(graph, weights, metadata=onnx_metadata(Trained(source, graph, weights)))
    lap("plan+emit")
    write_onnx(emitted, out)
    lap("draw+write")
    draw_only = plan_weights(graph, 0)
    for value in draw_only.values():
        for _ in value.pieces() if isinstance(value, Drawn) else ():
            pass
    lap("(draw alone)")
    os.sync()
    lap("")
    trained = load_trained(run_dir)
    emitted = emit_trained(trained)
    lap("export: read+build+emit")
    write_onnx(emitted, out)
    lap("export: copy+write")
    del times[""]
    return times


def run_directory(net_file: Path, model: str, weights: dict[str, np.ndarray], at: Path) -> Path:
    """A run directory as `netlang train --out` leaves it, holding `weights`."""
    (at / "checkpoints").mkdir(parents=True)
    (at / "source.net").write_text(net_file.read_text())
    config = {"model": model, "arguments": {}, "source_name": net_file.name}
    (at / "config.json").write_text(json.dumps(config))
    save_file(weights, str(at / "checkpoints" / "best.safetensors"))
    return at


def torch_export(module: torch.nn.Module, out: Path, dynamo: bool) -> None:
    torch.onnx.export(
        module,
        (torch.zeros(1, 3, 224, 224),),
        str(out),
        dynamo=dynamo,
        opset_version=20,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
        verbose=False,
    )


def floor_write(path: Path, buffer: np.ndarray, *, new: bool) -> tuple[float, float]:
    """Wall and CPU seconds to write `buffer` to `path`: a new file, or over the one there
    (truncated)."""
    if new:
        path.unlink(missing_ok=True)
    start, cpu = time.perf_counter(), time.process_time()
    with open(path, "wb") as out:
        out.write(memoryview(buffer))
    return time.perf_counter() - start, time.process_time() - cpu


def bench_model(
    label: str, rounds: int, workdir: Path, baseline_mb: float, reference: Path | None
) -> dict[str, Any]:
    net_name, model, builder = MODELS[label]
    net_file = STDLIB / net_name
    source = read_source(net_file)
    graph = build(source, model, {})
    weights = init_weights(graph, 0)
    weight_bytes = sum(a.nbytes for a in weights.values())
    run_dir = run_directory(net_file, model, weights, workdir / f"{model}-run")
    module = builder().eval()
    module.load_state_dict({name: torch.from_numpy(array) for name, array in weights.items()})
    del weights
    out = {name: workdir / f"{model}.{name}.onnx" for name in ("compile", "export", "torch")}
    compile_args = netlang("compile", str(net_file), "--model", model, "-o", str(out["compile"]))
    export_args = netlang("export", str(run_dir), "-o", str(out["export"]))
    for tree in (TREE, reference) if reference else (TREE,):  # warm the caches, the bytecode's too
        process(compile_args, tree)
        process(export_args, tree)
    size = out["compile"].stat().st_size
    buffer = np.ones(size, np.uint8)
    floor_args = [sys.executable, "-c", FLOOR_PROCESS, str(workdir / "floor.bin"), str(size)]
    process(floor_args)
    (workdir / "floor.bin").unlink()
    with torch.no_grad():
        torch_export(module, out["torch"], dynamo=True)  # warm-up: first export traces more
        torch_export(module, out["torch"], dynamo=False)
    seconds: dict[str, list[float]] = {}
    trees = {"": TREE, **({" (reference tree)": reference} if reference else {})}
    memory: dict[str, list[float]] = {}
    cpu_seconds: dict[str, list[float]] = {}
    stage_runs = []
    floor = workdir / "floor.bin"

    def timed(key: str, seconds_of: Callable[[], float]) -> None:
        os.sync()  # each starts with nothing left to write back from the one before
        seconds.setdefault(key, []).append(seconds_of())

    def record(key: str, wall: float, cpu: float) -> None:
        seconds.setdefault(key, []).append(wall)
        cpu_seconds.setdefault(key, []).append(cpu)

    def torch_seconds(dynamo: bool) -> float:
        start = time.perf_counter()
        with torch.no_grad():
            torch_export(module, out["torch"], dynamo=dynamo)
        return time.perf_counter() - start

    for number in range(rounds):
        for name, args in (("compile", compile_args), ("export", export_args)):
            for tag, tree in list(trees.items())[:: 1 if number % 2 else -1]:  # each first by turns
                os.sync()
                wall, cpu, peak = process(args, tree)
                record(f"netlang {name}{tag}", wall, cpu)
                memory.setdefault(f"{name}{tag}", []).append(peak)
        timed("torch.onnx.export dynamo (default)", lambda: torch_seconds(True))
        timed("torch.onnx.export TorchScript (legacy)", lambda: torch_seconds(False))
        for key, new in (
            ("floor: write in process", True),
            ("floor: write over the old file", False),
        ):
            os.sync()
            record(key, *floor_write(floor, buffer, new=new))
        floor.unlink()
        os.sync()
        record("floor: write as a process", *process(floor_args)[:2])
        floor.unlink()
        os.sync()
        stage_runs.append(stages(net_file, model, out["compile"], run_dir))
    weights_mb = weight_bytes / 2**20
    return {
        "weights_mb": weights_mb,
        "file_mb": size / 2**20,
        "seconds": {k: statistics.median(v) for k, v in seconds.items()},
        "cpu_s": {k: statistics.median(v) for k, v in cpu_seconds.items()},
        "stages_s": {k: statistics.median(run[k] for run in stage_runs) for k in stage_runs[0]},
        "peak_rss_mb": {k: statistics.median(v) for k, v in memory.items()},
        "peak_over_weights": {k: statistics.median(v) / weights_mb for k, v in memory.items()},
        "peak_above_baseline_over_weights": {
            k: (statistics.median(v) - baseline_mb) / weights_mb for k, v in memory.items()
        },
    }


def report(results: dict[str, Any]) -> str:
    lines = []
    for label, r in results["models"].items():
        s = r["seconds"]
        ours, floor = s["netlang compile"], s["floor: write in process"]
        lines += [
            f"### {label}: {r['weights_mb']:.0f} MiB of weights, {r['file_mb']:.0f} MiB file",
            "",
            "| contender | median s | netlang compile is faster by |",
            "| --- | ---: | ---: |",
            *(f"| {k} | {v:.3f} | {v / ours:.2f}x |" for k, v in s.items()),
            "",
            f"netlang compile / floor (in process): {ours / floor:.2f}x; "
            f"netlang export / floor: {s['netlang export'] / floor:.2f}x; over the old file's "
            f"floor: compile {ours / s['floor: write over the old file']:.2f}x, export "
            f"{s['netlang export'] / s['floor: write over the old file']:.2f}x. "
            "Stages in process: "
            + ", ".join(f"{k} {v:.3f} s" for k, v in r["stages_s"].items())
            + ". CPU of the processes (user + system): "
            + ", ".join(f"{k} {v:.3f} s" for k, v in r["cpu_s"].items())
            + ". Peak RSS: "
            + ", ".join(
                f"{k} {r['peak_rss_mb'][k]:.0f} MB = {r['peak_over_weights'][k]:.2f}x weights "
                f"({r['peak_above_baseline_over_weights'][k]:.2f}x above the baseline)"
                for k in r["peak_rss_mb"]
            )
            + ".",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument(
        "--reference", type=Path, default=None, help="another checkout to time side by side"
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="run the processes as the environment says (PYTHONDONTWRITEBYTECODE: from source)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"loadavg_before": os.getloadavg(), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_bytecode:
            use_bytecode(Path(tmp) / "pycache")
        results["bytecode"] = not args.no_bytecode
        lenet = [str(STDLIB / "lenet.net"), "-o", str(Path(tmp) / "lenet.onnx")]
        baseline_mb = statistics.median(process(netlang("compile", *lenet))[2] for _ in range(3))
        results["baseline_rss_mb"] = baseline_mb
        for label in args.models:
            results["models"][label] = bench_model(
                label, args.rounds, Path(tmp), baseline_mb, args.reference
            )
            print(f"{label}: {json.dumps(results['models'][label])}", flush=True)
    results["loadavg_after"] = os.getloadavg()
    print(f"load average before {results['loadavg_before']}, after {results['loadavg_after']}")
    print("processes run from " + ("cached bytecode" if results["bytecode"] else "the environment"))
    print(f"baseline RSS (netlang compile of LeNet-5): {results['baseline_rss_mb']:.0f} MB")
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
