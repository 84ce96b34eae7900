"""The code stays formatted and lint-clean (ruff, configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_package_passes_ruff_lint_and_format_check() -> None:
    for command in (
        ["check", "netlang", "tests", "bench"],
        ["format", "--check", "netlang", "tests", "bench"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=REPO, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
