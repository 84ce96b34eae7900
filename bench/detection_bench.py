"""Detection and segmentation examples (issue 16): `netlang train` wall clock, CPU time and the
test figures of examples/yolo_digits.net (mAP@0.5, mAP@0.5:0.95 from torchmetrics) and
examples/segment_digits.net (mean IoU from torchmetrics), each as a fresh process on the CPU.

    python bench/detection_bench.py                 # both examples, default threads
    python bench/detection_bench.py --one-thread    # OMP_NUM_THREADS=1 (faster on a busy host)

Prints one Markdown row per example, with the load average, for bench/detection_results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = ("yolo_digits", "segment_digits")


def run(example: str, out: Path, env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, CPU seconds of the child, test.json) of one training run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "netlang", "train", f"examples/{example}.net", "--out", str(out),
         "--device", "cpu"],
        cwd=REPO, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **env},
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads((out / "test.json").read_text())


def figures(test: dict[str, Any]) -> str:
    if test.get("task") == "detection":
        return f"mAP@0.5 {100 * test['map_50']:.1f}%, mAP@0.5:0.95 {100 * test['map']:.1f}%"
    return (
        f"mean IoU {100 * test['mean_iou']:.1f}% ({100 * test['mean_iou_foreground']:.1f}% "
        f"digits only), pixel accuracy {100 * test['pixel_accuracy']:.1f}%"
    )


def per_class_figures(test: dict[str, Any]) -> str:
    """AP@0.5:0.95 per class (detection) or IoU per class (segmentation), in percent."""
    if test.get("task") == "detection":
        return ", ".join(f"{c} {100 * v:.1f}" for c, v in test["ap_per_class"].items())
    values = test["iou_per_class"]
    return ", ".join("-" if v is None else f"{100 * v:.1f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one-thread", action="store_true", help="OMP_NUM_THREADS=1")
    parser.add_argument("--only", choices=EXAMPLES, help="one example")
    args = parser.parse_args()
    env = {"OMP_NUM_THREADS": "1"} if args.one_thread else {}
    print("| example | test figures | wall | CPU | load (1, 5, 15 min) |")
    print("| --- | --- | ---: | ---: | --- |")
    per_class = []
    with tempfile.TemporaryDirectory() as tmp:
        for example in [args.only] if args.only else EXAMPLES:
            wall, cpu, test = run(example, Path(tmp) / example, env)
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"| {example} | {figures(test)} | {wall:.0f} s | {cpu:.0f} s | {load} |")
            per_class.append(f"{example}: {per_class_figures(test)}")
    print("\n" + "\n".join(per_class))


if __name__ == "__main__":
    main()
