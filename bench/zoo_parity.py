"""The parity figures of the zoo's tests, written down: for one model per code path of every
family, the max |ours - torchvision| relative to the output scale (max(1, max |torchvision|))
through the torch lowering and through `import-weights` -> `compile --weights` -> onnxruntime,
with the weights and inputs tests/stdlib/test_modern_parity.py uses.

    python bench/zoo_parity.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netlang.export.weights_import import resolve_target  # noqa: E402
from tests.stdlib import test_modern_parity as modern  # noqa: E402
from tests.stdlib import test_zoo_parity as zoo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cases = {
        **{n: zoo.CASES[n] for n in zoo.OUTPUT_CASES},
        **{n: modern.CASES[n] for n in (*modern.OUTPUT_CASES, *modern.SLOW)},
    }
    rows = []
    for name, case in cases.items():
        reference, image, expected = modern.perturbed(case)
        program, model = resolve_target(f"stdlib:{case.model}")
        graph = program.model(model, size=case.size, **case.arguments)
        with tempfile.TemporaryDirectory() as folder:
            onnx = modern.onnx_difference(case, reference, image, expected, Path(folder))
        row = {
            "case": name,
            "params": graph.param_count,
            "torch": modern.torch_difference(graph, reference, image, expected),
            "onnxruntime": onnx,
            "size": case.size,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
