"""netlang.data loads and reads data without torch: `check`/`summary` stay fast."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["torch"] = None  # any `import torch` now fails
from netlang.data import load_data, make_augment, Standardizer
from netlang.semantics.train_spec import Call
splits = load_data(Call("digits", (), {"size": 16}))
Standardizer.fit(splits.train.x)
make_augment([Call("hflip")])
print(splits.input_shape)
"""


def test_loading_and_standardising_need_no_torch() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 16, 16)"
