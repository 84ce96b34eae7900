"""examples/ as a fresh clone has them: what .gitignore keeps out (run folders, downloaded data,
checkpoints, exported models) is left behind."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def copy_examples(target: Path) -> Path:
    """Copy examples/ to `target` as a clone would hold it; returns `target`."""
    shutil.copytree(EXAMPLES, target, ignore=lambda folder, names: _untracked(Path(folder), names))
    return target


def _untracked(folder: Path, names: list[str]) -> set[str]:
    downloads = (
        {n for n in names if (folder / n).is_dir()} if folder == EXAMPLES / "data" else set()
    )
    return downloads | {n for n in names if n == "runs" or n.endswith((".pth", ".onnx"))}
