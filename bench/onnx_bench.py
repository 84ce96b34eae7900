"""ONNX export benchmark: netlang's emitter vs torch.onnx.export, and onnxruntime CPU latency of
both files, for ResNet-50 and VGG-16 (224x224), in one run.

    python bench/onnx_bench.py [--compile-runs 3] [--latency-runs 5] [--threads 1] [--json out.json]

Compile: what `netlang compile FILE --model M -o x.onnx` does, in process: read the source,
elaborate, draw initial weights, emit, serialize and write the file. Against it:
`torch.onnx.export` (the TorchScript exporter, `dynamo=False`: the default dynamo exporter needs
onnxscript, which is not installed) of the torchvision model holding the same weights, opset 20,
dynamic batch. Rounds alternate ours/theirs; medians are quoted.

Latency: both files in onnxruntime's CPU provider with identical SessionOptions (fixed threads,
sequential execution, all graph optimisations), batch 1 and 8, rounds alternating, medians; the
outputs of the two files are compared first (same weights, so they must agree). Node counts are
given for each file and for the graph onnxruntime actually runs after its optimisations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from functools import partial
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision

from netlang.backends.weights import init_weights
from netlang.export.ship import Trained, build, write_onnx
from netlang.semantics.program import read_source

STDLIB = Path(__file__).resolve().parents[1] / "stdlib"
MODELS = {  # name -> (.net file, model, torchvision builder)
    "ResNet-50": ("resnet.net", "ResNet50", torchvision.models.resnet50),
    "VGG-16": ("vgg.net", "VGG16", torchvision.models.vgg16),
}
OPSET = 20
BATCHES = (1, 8)


def compile_ours(
    source_path: Path, model: str, out: Path
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """`netlang compile` in process: the weights it drew (for the torch side) and the seconds
    each stage took."""
    stages, start = {}, time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal start
        now = time.perf_counter()
        stages[stage], start = now - start, now

    source = read_source(source_path)
    graph = build(source, model, {})
    lap("parse+elaborate")
    weights = init_weights(graph, 0)
    lap("init weights")
    write_onnx(Trained(source, graph, weights), out)
    lap("emit+write")
    return weights, stages


def export_theirs(module: torch.nn.Module, out: Path) -> None:
    torch.onnx.export(
        module,
        (torch.zeros(1, 3, 224, 224),),
        str(out),
        dynamo=False,
        opset_version=OPSET,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
    )


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def session_options(threads: int, optimized_path: Path | None = None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if optimized_path is not None:
        options.optimized_model_filepath = str(optimized_path)
    return options


def session(path: Path, threads: int) -> ort.InferenceSession:
    return ort.InferenceSession(
        str(path), session_options(threads), providers=["CPUExecutionProvider"]
    )


def node_counts(
    path: Path, threads: int, workdir: Path
) -> tuple[int, int, dict[str, int], list[str]]:
    """Nodes in the file, nodes onnxruntime runs after optimising it, the latter by type, and
    each of the latter as op type + attributes (names aside), to compare two files' kernels."""
    optimized = workdir / f"{path.stem}.optimized.onnx"
    ort.InferenceSession(
        str(path), session_options(threads, optimized), providers=["CPUExecutionProvider"]
    )
    original = onnx.load(str(path), load_external_data=False)
    after = onnx.load(str(optimized), load_external_data=False)
    kinds = Counter(node.op_type for node in after.graph.node)
    signature = [
        node.op_type
        + str(sorted((a.name, str(onnx.helper.get_attribute_value(a))) for a in node.attribute))
        for node in after.graph.node
    ]
    return len(original.graph.node), len(after.graph.node), dict(sorted(kinds.items())), signature


def bench_model(label: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    net_file, model, builder = MODELS[label]
    ours_path, theirs_path = workdir / f"{model}.netlang.onnx", workdir / f"{model}.torch.onnx"
    weights, _ = compile_ours(STDLIB / net_file, model, ours_path)  # warm-up round, not timed
    module = builder().eval()
    module.load_state_dict({name: torch.from_numpy(array) for name, array in weights.items()})
    export_theirs(module, theirs_path)
    compile_ours_s, export_theirs_s, stages = [], [], []
    for _ in range(args.compile_runs):
        start = time.perf_counter()
        stages.append(compile_ours(STDLIB / net_file, model, ours_path)[1])
        compile_ours_s.append(time.perf_counter() - start)
        export_theirs_s.append(timed(partial(export_theirs, module, theirs_path)))
    result: dict[str, Any] = {
        "compile_ours_s": statistics.median(compile_ours_s),
        "compile_ours_stages_s": {
            k: statistics.median(run[k] for run in stages) for k in stages[0]
        },
        "export_torch_s": statistics.median(export_theirs_s),
        "file_mb": {
            "ours": ours_path.stat().st_size / 1e6,
            "torch": theirs_path.stat().st_size / 1e6,
        },
    }
    del module, weights

    ours, theirs = session(ours_path, args.threads), session(theirs_path, args.threads)
    rng = np.random.default_rng(0)
    result["latency_ms"] = {}
    for batch in BATCHES:
        x = rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)
        ours_out = ours.run(None, {"image": x})[0]
        theirs_out = theirs.run(None, {"image": x})[0]
        scale = max(1.0, float(np.abs(theirs_out).max()))
        result.setdefault("max_abs_diff_vs_torch", {})[batch] = float(
            np.abs(ours_out - theirs_out).max() / scale
        )
        times: dict[str, list[float]] = {"ours": [], "torch": []}
        for _ in range(args.latency_runs):
            times["ours"].append(timed(partial(ours.run, None, {"image": x})) * 1000)
            times["torch"].append(timed(partial(theirs.run, None, {"image": x})) * 1000)
        result["latency_ms"][batch] = {k: statistics.median(v) for k, v in times.items()}
    del ours, theirs

    result["nodes"], signatures = {}, {}
    for side, path in (("ours", ours_path), ("torch", theirs_path)):
        in_file, after, kinds, signatures[side] = node_counts(path, args.threads, workdir)
        result["nodes"][side] = {"file": in_file, "after_ort": after, "after_ort_kinds": kinds}
    result["same_kernels_after_ort"] = sorted(signatures["ours"]) == sorted(signatures["torch"])
    return result


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    load = Path("/proc/loadavg").read_text().split()[:3]
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "loadavg": load,
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        "| model | netlang compile s | torch.onnx.export s | speed-up | "
        "latency b1 ours/torch ms | ratio | latency b8 ours/torch ms | ratio | "
        "nodes ours/torch (file) | nodes ours/torch (after ORT) |",
        "|---" * 10 + "|",
    ]
    for label, r in results["models"].items():
        b1, b8 = r["latency_ms"][1], r["latency_ms"][8]
        lines.append(
            f"| {label} | {r['compile_ours_s']:.2f} | {r['export_torch_s']:.2f} | "
            f"{r['export_torch_s'] / r['compile_ours_s']:.1f}x | "
            f"{b1['ours']:.1f} / {b1['torch']:.1f} | {b1['ours'] / b1['torch']:.3f} | "
            f"{b8['ours']:.1f} / {b8['torch']:.1f} | {b8['ours'] / b8['torch']:.3f} | "
            f"{r['nodes']['ours']['file']} / {r['nodes']['torch']['file']} | "
            f"{r['nodes']['ours']['after_ort']} / {r['nodes']['torch']['after_ort']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile-runs", type=int, default=3)
    parser.add_argument("--latency-runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ort.set_default_logger_severity(3)  # not the warning that optimised models are host-specific
    results: dict[str, Any] = {"machine": machine(), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for label in args.models:
            results["models"][label] = bench_model(label, args, Path(tmp))
            print(f"{label}: {json.dumps(results['models'][label])}", flush=True)
    results["machine_after"] = machine()["loadavg"]
    print(json.dumps(results["machine"]))
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
