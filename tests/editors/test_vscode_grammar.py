"""The VS Code extension: its TextMate grammar is generated from the Lark grammar's keywords and
the op registry, and tokenises every stdlib and example file the way the compiler's own lexer
does (keywords, strings, comments, numbers) with no gaps."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from netlang.ops import REGISTRY
from netlang.syntax.lalr import lalr_parser
from netlang.syntax.parser import keywords

REPO = Path(__file__).resolve().parents[2]
VSCODE = REPO / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "netlang.tmLanguage.json").read_text())
FILES = sorted([*(REPO / "stdlib").glob("*.net"), *(REPO / "examples").rglob("*.net")])


def _generator():
    spec = importlib.util.spec_from_file_location(
        "vscode_grammar", REPO / "scripts/vscode_grammar.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _words(scope_prefix: str) -> set[str]:
    found: set[str] = set()
    for pattern in GRAMMAR["patterns"]:
        if pattern.get("name", "").startswith(scope_prefix):
            found |= set(re.search(r"\(([^()?]*)\)", pattern["match"]).group(1).split("|"))
    return found


def test_grammar_file_is_what_the_generator_writes_now() -> None:
    assert (VSCODE / "syntaxes" / "netlang.tmLanguage.json").read_text() == _generator().text()


def test_keywords_are_the_lark_grammars_and_layers_are_the_registrys() -> None:
    keyword_scopes = (
        "keyword.control",
        "storage.type",
        "keyword.other",
        "keyword.operator.logical",
    )
    highlighted = set().union(*(_words(s) for s in keyword_scopes), _words("constant.language"))
    assert highlighted == set(keywords())
    assert _words("support.function.layer") == set(REGISTRY)


def tokenise(line: str) -> list[tuple[int, int, str]]:
    """TextMate's rule for single-line `match` patterns: at each position the earliest match
    wins, ties going to the pattern listed first; captures scope their groups."""
    compiled = [(re.compile(p["match"]), p) for p in GRAMMAR["patterns"]]
    tokens, pos = [], 0
    while pos < len(line):
        best = None
        for regex, pattern in compiled:
            match = regex.search(line, pos)
            if match and (best is None or match.start() < best[0].start()):
                best = (match, pattern)
        if best is None:
            break
        match, pattern = best
        if "captures" in pattern:
            for group, capture in pattern["captures"].items():
                tokens.append((match.start(int(group)), match.end(int(group)), capture["name"]))
        else:
            tokens.append((match.start(), match.end(), pattern["name"]))
        pos = max(match.end(), pos + 1)
    return tokens


SCOPE_OF = {
    "COMMENT": "comment.",
    "STRING": "string.",
    "INT": "constant.numeric.",
    "FLOAT": "constant.numeric.",
}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_grammar_covers_every_keyword_string_comment_and_number_exactly(path: Path) -> None:
    text = path.read_text()
    lines = text.splitlines()
    scopes = {n: tokenise(line) for n, line in enumerate(lines, 1)}
    checked = 0
    for token in lalr_parser().lex(text, dont_ignore=True):
        if token.value in keywords() and token.type not in ("NAME", "KWARG"):
            want = ("keyword.", "storage.type.", "constant.language.")
        elif token.type in SCOPE_OF:
            want = (SCOPE_OF[token.type],)
        else:
            continue
        span = (token.column - 1, token.end_column - 1)
        assert token.line == token.end_line
        found = [s for a, b, s in scopes[token.line] if (a, b) == span]
        assert found and found[0].startswith(want), (
            f"{path.name}:{token.line}:{token.column} {token.value!r} -> {found or 'no token'}"
        )
        checked += 1
    assert checked > 0


def test_extension_manifest_points_at_its_grammar_config_and_client() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".net"] and grammar["scopeName"] == GRAMMAR["scopeName"]
    for relative in (language["configuration"], grammar["path"], manifest["main"]):
        assert (VSCODE / relative).is_file()
    config = json.loads((VSCODE / "language-configuration.json").read_text())
    assert config["comments"]["lineComment"] == "#"
    assert "vscode-languageclient" in manifest["dependencies"]
    assert '"lsp"' in (VSCODE / "extension.js").read_text()


def test_the_lock_pins_what_the_extension_declares_so_packaging_can_npm_ci() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text())
    root = json.loads((VSCODE / "package-lock.json").read_text())["packages"]
    for field in ("name", "version", "dependencies", "devDependencies"):
        assert root[""].get(field) == manifest.get(field), field
    for name in [*manifest["dependencies"], *manifest["devDependencies"]]:
        assert f"node_modules/{name}" in root, name
