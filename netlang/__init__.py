"""netlang: a textual language for neural networks.

program = netlang.load("examples/lenet.net")
graph = program.model("LeNet5", classes=10)
print(graph.summary())
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from netlang.semantics.program import Program


def load(path_or_source: str, *, name: str | None = None) -> Program:
    """Parse and check a `.net` file (a path) or source text; raises CompileError on errors."""
    from netlang.semantics.program import load as _load

    return _load(path_or_source, name=name)
