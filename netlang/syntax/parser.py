"""Parsing: SourceFile -> ast.Module, or syntax diagnostics (never an exception)."""

from __future__ import annotations

import re

import lark

from netlang.diagnostics import Diagnostic, error
from netlang.diagnostics.source import SourceFile
from netlang.syntax import ast
from netlang.syntax.lalr import keywords, lalr_parser, syntax_error
from netlang.syntax.scans import MAX_NESTING, too_deep
from netlang.syntax.to_ast import ToAst

__all__ = ["MAX_SOURCE", "keywords", "parse"]  # keywords: the reserved words, for editors

# A definition starts at the beginning of a line with one of these: where parsing resumes.
_DEFINITION = re.compile(r"^(model|block|train|import)\b", re.M)


def parse(source: SourceFile) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one file. Returns the module, or None and the syntax errors.

    After an error, parsing resumes at the next definition (a line starting with `model`,
    `block`, `train` or `import`), so independent mistakes are all reported in one run.
    """
    errors: list[Diagnostic] = []
    text = source.text
    if len(text) > MAX_SOURCE:
        return None, [_too_large(source)]
    while True:
        try:
            tree = lalr_parser().parse(text, start="start")
        except lark.exceptions.UnexpectedInput as exc:
            errors.append(syntax_error(source, exc))
            position = exc.pos_in_stream
            if position is None or position < 0:  # the end of the file: nothing follows
                return None, errors
            resume = _DEFINITION.search(text, text.find("\n", position) + 1 or len(text))
            if resume is None:
                return None, errors
            # Blank out what was parsed (keeping newlines), so positions stay the file's own.
            text = re.sub(r"[^\n]", " ", text[: resume.start()]) + text[resume.start() :]
            continue
        if errors:
            return None, errors
        to_ast = ToAst(source)
        module = to_ast.transform(tree)
        if to_ast.errors:
            return None, to_ast.errors
        deep = too_deep(module)
        if deep is not None:
            message = f"nested more than {MAX_NESTING} levels deep"
            hint = "name the inner parts (`h = ...`) or use `for` to repeat layers"
            return None, [error("NL1004", message, deep.span, hint=hint)]
        return module, []


# The longest source parsed (characters): 100 times the largest model of the standard library,
# and a pure-Python parser's few seconds; a megabyte more would take it minutes.
MAX_SOURCE = 1_000_000


def _too_large(source: SourceFile) -> Diagnostic:
    """NL1006 at the character where the file passes MAX_SOURCE."""
    before = source.text[:MAX_SOURCE]
    line = before.count("\n") + 1
    column = MAX_SOURCE - (before.rfind("\n") + 1) + 1
    return error(
        "NL1006",
        f"the file has {len(source.text):,} characters; netlang reads at most {MAX_SOURCE:,}",
        source.span(line, column, line, column + 1),
        hint="split it into files joined by `import`, or compute repeated parts with `for`",
    )
