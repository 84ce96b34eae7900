"""Where the language's own files are: the grammar and the standard library.

In a source checkout they sit at the top of the repository (`grammar/`, `stdlib/`), where readers
look for them; a built wheel carries them inside the package as `netlang.grammar` and
`netlang.stdlib` (pyproject's `package-dir`). Both layouts answer the same questions here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

_CHECKOUT = Path(__file__).resolve().parents[2]


@cache
def folder(name: str) -> Traversable:
    """`grammar` or `stdlib`: the checkout's top-level folder, else the installed package's."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / name).is_dir():
        return _CHECKOUT / name
    from importlib import resources  # only an installed wheel needs it (2-5 ms to import)

    return resources.files(f"netlang.{name}")


def grammar_text() -> str:
    return folder("grammar").joinpath("netlang.lark").read_text(encoding="utf-8")


def stdlib_names() -> list[str]:
    files = folder("stdlib").iterdir()
    return sorted(p.name.removesuffix(".net") for p in files if p.name.endswith(".net"))


def read_stdlib(name: str) -> str | None:
    path = folder("stdlib").joinpath(f"{name}.net")
    return path.read_text(encoding="utf-8") if path.is_file() else None
