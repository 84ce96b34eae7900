"""Every text file netlang reads or writes says `encoding=`: without it Python uses the locale's
(cp1252 on a Spanish Windows), so a run written there with `ñ` in its source or class names
would not read back, or not be written at all (UnicodeEncodeError on a `λ` in a comment)."""

from __future__ import annotations

import ast
from pathlib import Path

import netlang

PACKAGE = Path(netlang.__file__).parent


def _unspecified(tree: ast.AST) -> list[int]:
    """Lines of `x.read_text()`, `x.write_text(s)` and text-mode `open(...)` without encoding."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "read_text" and len(node.args) < 1:
            lines.append(node.lineno)
        elif name == "write_text" and len(node.args) < 2:
            lines.append(node.lineno)
        elif name == "open" and isinstance(func, ast.Name):
            mode = node.args[1] if len(node.args) > 1 else None
            mode = mode or next((k.value for k in node.keywords if k.arg == "mode"), None)
            text = not (isinstance(mode, ast.Constant) and "b" in str(mode.value))
            if text:
                lines.append(node.lineno)
    return lines


def test_every_text_file_is_read_and_written_as_utf8_whatever_the_locale():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line in _unspecified(ast.parse(path.read_text(encoding="utf-8"))):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert not found, "say encoding='utf-8' at: " + ", ".join(found)
