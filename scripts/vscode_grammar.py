"""Write editors/vscode/syntaxes/netlang.tmLanguage.json from the compiler's own lists: the
keywords from the Lark grammar and the layer names from the op registry, so the highlighting
cannot drift from the language (tests/editors/test_vscode_grammar.py checks the file is current).

    python scripts/vscode_grammar.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netlang.ops import REGISTRY  # noqa: E402
from netlang.syntax.parser import keywords  # noqa: E402

TARGET = REPO / "editors" / "vscode" / "syntaxes" / "netlang.tmLanguage.json"

# Each keyword's TextMate scope; a keyword the grammar gains must be placed here.
KEYWORD_SCOPES = {
    "keyword.control.netlang": ["if", "elif", "else", "for", "in", "return", "assert"],
    "storage.type.netlang": ["model", "block", "train", "stage", "import", "input", "output"],
    "keyword.other.test.netlang": ["test"],
    "keyword.operator.logical.netlang": ["and", "or", "not"],
    "constant.language.boolean.netlang": ["true", "false"],
}
NOT_A_NAME = "(?<![A-Za-z0-9_])"  # Oniguruma and Python `re` both read these patterns


def grammar() -> dict:
    placed = sorted(word for words in KEYWORD_SCOPES.values() for word in words)
    if placed != keywords():
        raise SystemExit(f"KEYWORD_SCOPES {placed} differs from the grammar's {keywords()}")
    patterns: list[dict] = [
        {"name": "comment.line.number-sign.netlang", "match": "#.*$"},
        {"name": "string.quoted.double.netlang", "match": '"(?:\\\\.|[^"\\\\])*"'},
        {
            "match": f"{NOT_A_NAME}(model|block)\\s+([A-Za-z_][A-Za-z0-9_]*)",
            "captures": {
                "1": {"name": "storage.type.netlang"},
                "2": {"name": "entity.name.type.netlang"},
            },
        },
    ]
    for scope, words in KEYWORD_SCOPES.items():
        patterns.append({"name": scope, "match": f"{NOT_A_NAME}({'|'.join(words)})\\b"})
    patterns += [
        {
            "name": "constant.numeric.float.netlang",
            "match": f"{NOT_A_NAME}(?:[0-9][0-9_]*\\.[0-9_]*|\\.[0-9][0-9_]*)"
            "(?:[eE][+-]?[0-9]+)?|"
            f"{NOT_A_NAME}[0-9][0-9_]*[eE][+-]?[0-9]+",
        },
        {"name": "constant.numeric.integer.netlang", "match": f"{NOT_A_NAME}[0-9][0-9_]*"},
        {
            "name": "support.function.layer.netlang",
            "match": f"{NOT_A_NAME}({'|'.join(sorted(REGISTRY, key=lambda n: (-len(n), n)))})\\b",
        },
        {"name": "keyword.operator.flow.netlang", "match": "->"},
        {"name": "keyword.operator.netlang", "match": "==|!=|<=|>=|\\*\\*|//|[-+*/%<>=]"},
    ]
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "netlang",
        "scopeName": "source.netlang",
        "fileTypes": ["net"],
        "patterns": patterns,
    }


def text() -> str:
    return json.dumps(grammar(), indent=2) + "\n"


if __name__ == "__main__":
    TARGET.write_text(text())
    print(f"wrote {TARGET.relative_to(REPO)}")
