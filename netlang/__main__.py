"""`python -m netlang ...`: the command line, as torchrun's `-m netlang train FILE` starts it."""

from __future__ import annotations

from netlang.cli import run

run()
