"""One train entry parsed on its own (a `--set` value): its positions are those of the text
the user typed, so a diagnostic shows that text with a caret under the bad part."""

from __future__ import annotations

import lark

from netlang.diagnostics import Diagnostic, error
from netlang.diagnostics.source import SourceFile
from netlang.syntax import ast
from netlang.syntax.lalr import lalr_parser, syntax_error
from netlang.syntax.to_ast import ToAst


def parse_train_entry(source: SourceFile) -> tuple[ast.TrainEntry | None, list[Diagnostic]]:
    """`key value` or `key a=1 b=2` -> the entry, or None and the syntax error."""
    try:
        tree = lalr_parser().parse(source.text, start="_train_item")
    except lark.exceptions.UnexpectedInput as exc:
        return None, [syntax_error(source, exc)]
    to_ast = ToAst(source)
    items = [c for c in to_ast.transform(tree).children if c is not None]
    if to_ast.errors:
        return None, to_ast.errors
    if len(items) != 1 or not isinstance(items[0], ast.TrainEntry):
        where = source.span(1, 1, 1, len(source.text) + 1)
        return None, [error("NL1002", "expected one train setting, `KEY VALUE`", where)]
    return items[0], []
