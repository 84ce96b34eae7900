"""Writing a picture: DOT text as is, or laid out by Graphviz's `dot` into SVG, PNG or PDF."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


class RenderError(Exception):
    """`dot` is missing or failed; `dot_path` is where the DOT text was written instead."""

    def __init__(self, message: str, dot_path: Path) -> None:
        super().__init__(message)
        self.dot_path = dot_path


def write_picture(dot: str, output: Path) -> Path:
    """Write `dot` to `output` in the format its suffix names; the path written.

    Raises:
        ValueError: for a suffix that is not .dot, .gv, .svg, .png or .pdf.
        RenderError: when Graphviz cannot render it (the .dot file is written beside it).
    """
    suffix = output.suffix.lower()
    if suffix in (".dot", ".gv"):
        output.write_text(dot, encoding="utf-8")
        return output
    if suffix not in FORMATS:
        raise ValueError(f"cannot write {output.name}: use .svg, .png, .pdf or .dot")
    executable = shutil.which("dot")
    if executable is None:
        fallback = output.with_suffix(".dot")
        fallback.write_text(dot, encoding="utf-8")
        raise RenderError(
            f"Graphviz `dot` is not installed, so {output.name} was not drawn; wrote "
            f"{fallback} instead. Install Graphviz (Debian/Ubuntu: apt-get install graphviz; "
            f"macOS: brew install graphviz) and run again, or render it with "
            f"`dot -T{FORMATS[suffix]} {fallback} -o {output}`",
            fallback,
        )
    done = subprocess.run(
        [executable, f"-T{FORMATS[suffix]}", "-o", str(output)],
        input=dot.encode(),
        capture_output=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        fallback = output.with_suffix(".dot")
        fallback.write_text(dot, encoding="utf-8")
        detail = done.stderr.decode(errors="replace").strip()
        raise RenderError(f"Graphviz failed ({detail}); the DOT text is in {fallback}", fallback)
    return output
