"""The modern zoo in onnxruntime: our ONNX vs torchvision's `torch.onnx.export` for
EfficientNet-B0, ConvNeXt-T and ViT-B/16 (224x224, the same random weights), and the time to
check ViT-B/16 and EfficientNet-B7, in one run.

    python bench/zoo_bench.py [--runs 15] [--threads 1] [--json out.json]

Latency: both files in onnxruntime's CPU provider with identical SessionOptions (fixed threads,
sequential execution, all graph optimisations; onnx_bench.py's), batch 1, rounds alternating
ours/theirs, medians; outputs are compared first. For each file, the op types onnxruntime runs
after its optimisations, so one can see whether the graphs match (and whether attention fuses).
Check: parse + elaborate + shape inference of one model from its source text, in process
(`netlang check FILE` does this for every model of the file), median of 5 after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import torchvision
from onnx_bench import OPSET, machine, node_counts, session

from netlang.backends.onnx_emit import emit_onnx
from netlang.diagnostics.source import SourceFile
from netlang.semantics.program import compile_source

STDLIB = Path(__file__).resolve().parents[1] / "stdlib"
MODELS = {  # label -> (.net file, model, torchvision builder)
    "EfficientNet-B0": ("efficientnet.net", "EfficientNetB0", torchvision.models.efficientnet_b0),
    "ConvNeXt-T": ("convnext.net", "ConvNeXtTiny", torchvision.models.convnext_tiny),
    "ViT-B/16": ("vit.net", "ViT_B_16", torchvision.models.vit_b_16),
}
CHECKS = {
    "ViT-B/16": ("vit.net", "ViT_B_16"),
    "EfficientNet-B7": ("efficientnet.net", "EfficientNetB7"),
}


def graph_of(net_file: str, model: str):  # type: ignore[no-untyped-def]
    program, diagnostics, _ = compile_source(SourceFile(net_file, (STDLIB / net_file).read_text()))
    assert program is not None, diagnostics
    return program.model(model)


def check_ms(net_file: str, model: str) -> float:
    graph_of(net_file, model)  # warm-up: the parser's tables
    times = []
    for _ in range(5):
        start = time.perf_counter()
        graph_of(net_file, model)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


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


def bench_model(label: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    net_file, model, builder = MODELS[label]
    torch.manual_seed(0)
    module = builder().eval()
    with torch.no_grad():  # ViT's head and class token start at zero: its logits would be too
        for tensor in module.parameters():
            if not tensor.any():
                tensor.normal_(0, 0.02)
    ours_path, theirs_path = workdir / f"{model}.netlang.onnx", workdir / f"{model}.torch.onnx"
    weights = {k: t.numpy() for k, t in module.state_dict().items()}
    onnx.save(emit_onnx(graph_of(net_file, model), weights), str(ours_path))
    export_theirs(module, theirs_path)
    ours, theirs = session(ours_path, args.threads), session(theirs_path, args.threads)
    image = np.random.default_rng(1).standard_normal((1, 3, 224, 224), dtype=np.float32)
    (a,) = ours.run(None, {ours.get_inputs()[0].name: image})
    (b,) = theirs.run(None, {theirs.get_inputs()[0].name: image})
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    for _ in range(args.runs):
        for side, s in (("ours", ours), ("theirs", theirs)):
            feed = {s.get_inputs()[0].name: image}
            start = time.perf_counter()
            s.run(None, feed)
            times[side].append((time.perf_counter() - start) * 1000)
    counts = {
        side: node_counts(path, args.threads, workdir)
        for side, path in (("ours", ours_path), ("theirs", theirs_path))
    }
    ours_ms, theirs_ms = (statistics.median(times[s]) for s in ("ours", "theirs"))
    return {
        "model": label,
        "max_abs_difference": float(np.abs(a - b).max()),
        "ours_ms": ours_ms,
        "theirs_ms": theirs_ms,
        "ratio": ours_ms / theirs_ms,
        **{f"{side}_nodes": counts[side][:2] for side in counts},
        **{f"{side}_optimised_ops": counts[side][2] for side in counts},
        "same_optimised_graph": sorted(counts["ours"][3]) == sorted(counts["theirs"][3]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "latency": [], "check_ms": {}}
    for label, (net_file, model) in CHECKS.items():
        results["check_ms"][label] = check_ms(net_file, model)
        print(f"check {label}: {results['check_ms'][label]:.1f} ms", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for label in MODELS:
            row = bench_model(label, args, Path(folder))
            results["latency"].append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
