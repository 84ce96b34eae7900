"""The `netlang` CLI's compiler commands: exit codes, LeNet's summary, no heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from netlang.cli import main

REPO = Path(__file__).resolve().parents[2]
LENET = str(REPO / "examples" / "lenet.net")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_exit_codes_are_0_clean_1_errors_2_usage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.net"
    bad.write_text("model A { input x: float32[N, 2]\n y = x -> lineer(2)\n output y }")
    assert run("check", LENET)[0] == 0
    code, _, err = run("check", str(bad))
    assert code == 1 and "did you mean `linear`?" in err and "Traceback" not in err
    assert run("check", str(tmp_path / "missing.net"))[0] == 2
    assert run("check")[0] == 2


def test_summary_reports_lenet_shapes_and_exactly_61706_parameters() -> None:
    code, out, _ = run("summary", LENET, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["totals"]["params"] == 61_706
    shapes = [
        row["output_shape"]
        for row in summary["layers"]
        if row["op"] in {"conv2d", "avgpool2d", "flatten", "linear"}
    ]
    assert shapes == [
        "[N, 6, 28, 28]",
        "[N, 6, 14, 14]",
        "[N, 16, 10, 10]",
        "[N, 16, 5, 5]",
        "[N, 400]",
        "[N, 120]",
        "[N, 84]",
        "[N, 10]",
    ]
    # conv 156*784... hand count of multiply-accumulates per sample:
    macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert summary["totals"]["macs"] == macs


def test_summary_text_has_totals_and_set_overrides_parameters() -> None:
    code, out, _ = run("summary", LENET, "--set", "classes=4")
    assert code == 0
    assert "total parameters:     61,196" in out  # 61,706 - 84 * 6 - 6
    assert "multiply-accumulates" in out and "parameter memory" in out


def test_summary_rejects_a_malformed_set_value() -> None:
    code, _, err = run("summary", LENET, "--set", "classes")
    assert code == 2 and "NAME=VALUE" in err


def test_explain_prints_the_long_text_of_a_code() -> None:
    code, out, _ = run("explain", "NL3003")
    assert code == 0 and "flatten" in out
    assert run("explain", "NL9999")[0] == 2


def test_help_check_and_summary_never_import_torch_or_onnxruntime() -> None:
    script = f"""
import sys
from netlang.cli import main
for args in (["--help"], ["check", {LENET!r}], ["summary", {LENET!r}]):
    try:
        main(args, standalone_mode=False)
    except SystemExit:
        pass
heavy = sorted(m for m in ("torch", "onnxruntime", "onnx") if m in sys.modules)
print("HEAVY", heavy)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
