"""Large numeric JSON `data` arrays are parsed piecewise into numpy: the same tensors and the same
refusals as the general path, at a fraction of its peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netlang.runtime.signature import BY_V2, Signature, TensorSpec
from netlang.serve import json_tensors
from netlang.serve.protocol import ServeError, parse_infer

ROWS, COLUMNS = 64, 100  # 6,400 numbers: past MIN_CUT_BYTES, so the piecewise path runs


def _signature(datatype: str) -> Signature:
    return Signature(
        inputs=(TensorSpec("x", BY_V2[datatype], (None, COLUMNS)),),
        outputs=(TensorSpec("y", BY_V2["FP32"], (None,)),),
    )


def _body(data: object, datatype: str = "FP32", shape: list[int] | None = None) -> bytes:
    inputs = [{"name": "x", "shape": shape or [ROWS, COLUMNS], "datatype": datatype, "data": data}]
    return json.dumps({"id": '"data": [1, 2]', "inputs": inputs}).encode()


def _both_paths(body: bytes, datatype: str, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """parse_infer's answer (array or refusal message) piecewise, then with json.loads whole."""
    answers = []
    for cut in (json_tensors.MIN_CUT_BYTES, 1 << 62):
        monkeypatch.setattr(json_tensors, "MIN_CUT_BYTES", cut)
        monkeypatch.setattr(json_tensors, "CHUNK_BYTES", 997)  # many pieces, odd boundaries
        try:
            answers.append(parse_infer(body, None, _signature(datatype)).inputs["x"])
        except ServeError as e:
            answers.append(e.status)
    return answers


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
@pytest.mark.parametrize(
    ("datatype", "values"),
    [
        ("FP32", np.random.default_rng(0).standard_normal(ROWS * COLUMNS) * 1e3),
        ("FP64", np.random.default_rng(1).standard_normal(ROWS * COLUMNS) * 1e-300),
        ("FP16", np.random.default_rng(2).standard_normal(ROWS * COLUMNS)),
        ("INT64", np.random.default_rng(3).integers(-(2**62), 2**62, ROWS * COLUMNS)),
        ("INT8", np.random.default_rng(4).integers(-128, 128, ROWS * COLUMNS)),
        ("UINT64", np.random.default_rng(5).integers(2**63, 2**64 - 1, ROWS * COLUMNS, np.uint64)),
    ],
)
def test_piecewise_parsing_gives_the_general_paths_tensor(
    datatype: str, values: np.ndarray, nested: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = values.reshape(ROWS, COLUMNS).tolist() if nested else values.tolist()
    piecewise, general = _both_paths(_body(data, datatype), datatype, monkeypatch)
    assert isinstance(piecewise, np.ndarray) and piecewise.dtype == general.dtype
    np.testing.assert_array_equal(piecewise, general)


def _flat_text(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


NUMBERS = ["0.5"] * (ROWS * COLUMNS)
BAD = {
    "leading zero": ["01"] + NUMBERS[1:],
    "bare dot": [".5"] + NUMBERS[1:],
    "trailing dot": ["5."] + NUMBERS[1:],
    "plus sign": ["+5"] + NUMBERS[1:],
    "double exponent": ["1e2e3"] + NUMBERS[1:],
    "empty element": ["1,"] + NUMBERS[2:],
    "one too few": NUMBERS[1:],
    "one too many": [*NUMBERS, "1"],
    "NaN": ["NaN"] + NUMBERS[1:],
    "overflow": ["1e400"] + NUMBERS[1:],
    "float overflow": ["1e39"] + NUMBERS[1:],
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_what_the_general_path_refuses_piecewise_parsing_refuses(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _body("X").replace(b'"X"', _flat_text(BAD[case]).encode())
    assert _both_paths(body, "FP32", monkeypatch) == [400, 400]


@pytest.mark.parametrize(
    ("datatype", "text"),
    [
        ("INT64", "[1.5" + ", 1" * (ROWS * COLUMNS - 1) + "]"),
        ("INT8", "[300" + ", 1" * (ROWS * COLUMNS - 1) + "]"),
        ("INT64", "[99999999999999999999" + ", 1" * (ROWS * COLUMNS - 1) + "]"),
        ("UINT8", "[-1" + ", 1" * (ROWS * COLUMNS - 1) + "]"),
        ("FP32", "[[1, 2], [3]" + ", 1" * (ROWS * COLUMNS - 3) + "]"),
        ("FP32", "[" + ", ".join(["[" + ", ".join(["1"] * (COLUMNS + 1)) + "]"] * ROWS) + "]"),
    ],
    ids=["float as int", "int8 range", "past int64", "negative uint", "ragged", "wrong rows"],
)
def test_integer_and_nesting_refusals_agree(
    datatype: str, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _body("X", datatype).replace(b'"X"', text.encode())
    assert _both_paths(body, datatype, monkeypatch) == [400, 400]


@pytest.mark.parametrize("rows", [10**12, 2**63], ids=["10**12 rows", "2**63 rows"])
def test_a_huge_claimed_shape_is_refused_without_building_its_brackets(
    rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _body([0.5] * (ROWS * COLUMNS), shape=[rows, COLUMNS])  # holds ROWS rows, far fewer
    assert _both_paths(body, "FP32", monkeypatch) == [400, 400]


@pytest.mark.parametrize("shape", [(0,), (3,), (2, 0), (2, 3, 4), (1, 1, 1)])
def test_skeleton_length_is_the_length_of_the_skeleton(shape: tuple[int, ...]) -> None:
    assert json_tensors.skeleton_length(shape) == len(json_tensors.skeleton(shape))


def test_a_data_key_inside_a_string_is_left_alone() -> None:
    text = '"data": [' + ", ".join(["1"] * 5000) + "]"
    inputs = [{"name": "x", "shape": [ROWS, COLUMNS], "datatype": "FP32", "data": [0.5] * 6400}]
    body = json.dumps({"id": text, "inputs": inputs}).encode()
    request = parse_infer(body, None, _signature("FP32"))
    assert request.id == text and request.inputs["x"].shape == (ROWS, COLUMNS)


PROBE = """
import sys
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
def kib(field):
    status = open("/proc/self/status").read().split(field + ":")[1]
    return int(status.split()[0])
open("/proc/self/clear_refs", "w").write("5")  # peak RSS := current RSS
before = kib("VmRSS")
parse_infer(body, None, signature)
print((kib("VmHWM") - before) * 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_a_large_json_body_raises_peak_memory_by_a_fraction_of_its_size(tmp_path: Path) -> None:
    rows = 1000  # 1e6 numbers, ~20 MB of JSON
    data = np.random.default_rng(0).standard_normal(rows * 1000).astype(np.float32).tolist()
    body = json.dumps(
        {"inputs": [{"name": "x", "shape": [rows, 1000], "datatype": "FP32", "data": data}]}
    ).encode()
    (tmp_path / "body.json").write_bytes(body)
    rise = {}
    for mode in ("whole", "piecewise"):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(tmp_path / "body.json"), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        rise[mode] = int(done.stdout)
    # whole: ~2.9x the body in Python objects; piecewise: the FP32 array and a piece at a time
    assert rise["whole"] > 2 * len(body), (rise, len(body))
    assert rise["piecewise"] < rise["whole"] / 3, (rise, len(body))
