"""Parsing: SourceFile -> ast.Module, or syntax diagnostics (never an exception)."""

from __future__ import annotations

import dataclasses
import gc
import re

import lark

from netlang.diagnostics import Diagnostic, error
from netlang.diagnostics.source import SourceFile
from netlang.syntax import ast
from netlang.syntax.lalr import keywords, lalr_parser, syntax_error
from netlang.syntax.scans import MAX_NESTING, MAX_SOURCE, operators, too_deep
from netlang.syntax.to_ast import ToAst

__all__ = ["MAX_SOURCE", "keywords", "parse"]  # keywords: the reserved words, for editors

# A definition starts at the beginning of a line with one of these: where parsing resumes.
_DEFINITION = re.compile(r"^(model|block|train|import)\b", re.M)


def parse(source: SourceFile) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one file. Returns the module, or None and the syntax errors.

    After an error, parsing resumes at the next definition (a line starting with `model`,
    `block`, `train` or `import`), so independent mistakes are all reported in one run.
    """
    # Parsing makes some ten objects a character and no reference cycles, so the cyclic
    # collector, which would walk them all again every few thousand, is paused (it took 40% of
    # parsing a 300 kB file).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _parse(source)
    finally:
        if paused:
            gc.enable()


def _parse(source: SourceFile) -> tuple[ast.Module | None, list[Diagnostic]]:
    errors: list[Diagnostic] = []
    text = source.text
    if len(text) > MAX_SOURCE:
        return None, [_too_large(source)]
    blank = 0  # text[:blank] is blanked out
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
            if len(errors) == MAX_SYNTAX_ERRORS:
                note = f"parsing stopped after {MAX_SYNTAX_ERRORS} syntax errors; fix these first"
                errors[-1] = dataclasses.replace(errors[-1], notes=(*errors[-1].notes, note))
                return None, errors
            # Blank out what was parsed (keeping newlines), so positions stay the file's own.
            cut = resume.start()
            text = text[:blank] + _BLANK.sub(_spaces, text[blank:cut]) + text[cut:]
            blank = cut
            continue
        if errors:
            return None, errors
        to_ast = ToAst(source)
        module = to_ast.transform(tree)
        if to_ast.errors:
            return None, to_ast.errors
        deep = too_deep(module)
        if deep is not None:
            return None, [_too_deep(source, *deep)]
        return module, []


def _too_deep(source: SourceFile, node: ast.Node, run: ast.Binary | None) -> Diagnostic:
    """NL1004 at the node past the limit; for a long run of operators (`x + x + ... + x`),
    which the user does not see as nesting, at the run's start, saying how many it has."""
    count, first = operators(run) if run is not None else (0, node)
    if count <= MAX_NESTING // 2:
        message = f"nested more than {MAX_NESTING} levels deep"
        hint = "name the inner parts (`h = ...`) or use `for` to repeat layers"
        return error("NL1004", message, node.span, hint=hint)
    start = first.span.start
    return error(
        "NL1004",
        f"an expression of {count:,} operators in a row: each is one level of nesting, "
        f"and netlang takes at most {MAX_NESTING}",
        source.span(start.line, start.column, first.span.end.line, first.span.end.column),
        hint="compute it in named parts of fewer operators (`s1 = a + b + c`, `s = s1 + d`)",
    )


# Syntax errors reported for one file before parsing stops (clang's -ferror-limit is 20 too):
# each resumes parsing after it, and a file that is not netlang would otherwise list thousands.
MAX_SYNTAX_ERRORS = 20
_BLANK = re.compile(r"[^\n]+")


def _spaces(match: re.Match[str]) -> str:
    return " " * len(match.group())


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
