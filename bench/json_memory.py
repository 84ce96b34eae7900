"""Peak memory of parsing one large JSON infer body: `json.loads` whole (the old path) against
the piecewise numeric path, each in a fresh process (Linux: reads /proc/self/status).

    python bench/json_memory.py --rows 4000     # FP32 [rows, 1000]; 4000 rows = 82.5 MB of JSON
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PROBE = """
import json, sys, time
from netlang.runtime.signature import BY_V2, Signature, TensorSpec
from netlang.serve import json_tensors
from netlang.serve.protocol import parse_infer
if sys.argv[2] == "whole":
    json_tensors.MIN_CUT_BYTES = 1 << 62
body = open(sys.argv[1], "rb").read()
signature = Signature(
    inputs=(TensorSpec("x", BY_V2["FP32"], (None, 1000)),),
    outputs=(TensorSpec("y", BY_V2["FP32"], (None,)),),
)
def mb(field):
    return int(open("/proc/self/status").read().split(field + ":")[1].split()[0]) / 1024
open("/proc/self/clear_refs", "w").write("5")
before, started = mb("VmRSS"), time.perf_counter()
request = parse_infer(body, None, signature)
seconds = time.perf_counter() - started
del request
print(json.dumps({"peak_rise_mb": round(mb("VmHWM") - before, 1),
                  "rss_after_mb": round(mb("VmRSS") - before, 1), "seconds": round(seconds, 2)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=4000)
    rows = parser.parse_args().rows
    data = np.random.default_rng(0).standard_normal(rows * 1000).astype(np.float32).tolist()
    inputs = [{"name": "x", "shape": [rows, 1000], "datatype": "FP32", "data": data}]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "body.json"
        path.write_bytes(json.dumps({"inputs": inputs}).encode())
        print(f"body: {path.stat().st_size / 1e6:.1f} MB")
        for mode in ("whole", "piecewise"):
            command = [sys.executable, "-c", PROBE, str(path), mode]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            print(f"{mode:>9}: {result.stdout.strip()}")


if __name__ == "__main__":
    main()
