"""Parsing: SourceFile -> ast.Module, or syntax diagnostics (never an exception)."""

from __future__ import annotations

import hashlib
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import lark
from lark import Token, v_args
from lark.visitors import Transformer_NonRecursive

from netlang.diagnostics import Diagnostic, Label, error
from netlang.diagnostics.source import SourceFile, Span, split_lines
from netlang.syntax import ast
from netlang.syntax.scans import CLOSERS, MAX_NESTING, too_deep, unclosed_bracket
from netlang.syntax.scans import character_hint, comma_hint, eof_hint, misplaced
from netlang.syntax.scans import reserved_hint, token_hint
from netlang.syntax.assets import grammar_text

# Human names for terminals in "expected ..." messages.
TOKEN_NAMES = {
    "NAME": "a name",
    "LABEL": "a name",  # a label is a name followed by `:`
    "KWARG": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "SEMICOLON": "`;`",
    "__ANON_0": "`->`",
    "COMPARE": "a comparison",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "$END": "end of file",
}


@cache
def _parser() -> lark.Lark:
    grammar = grammar_text()
    options: dict[str, Any] = {
        "parser": "lalr",
        "propagate_positions": True,
        "maybe_placeholders": True,
        # expr: the `{...}` parts of interpolated labels; _train_item: a `--set` value
        "start": ["start", "expr", "_train_item"],
    }
    cache_file = _cache_file(grammar)
    if cache_file is not None:
        try:
            return lark.Lark(grammar, cache=str(cache_file), **options)
        except OSError:
            pass  # an unwritable cache costs start-up time, nothing else
    return lark.Lark(grammar, **options)


def _cache_file(grammar: str) -> Path | None:
    """Where the analysed grammar is cached (building the LALR tables costs ~0.25 s a process):
    a private folder of the user's own, never a shared temporary directory."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "netlang"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        if base.stat().st_uid != os.getuid():
            return None
    except OSError:
        return None
    digest = hashlib.sha256(f"{lark.__version__}\n{grammar}".encode()).hexdigest()[:16]
    return base / f"grammar-{digest}.lark"


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
            tree = _parser().parse(text, start="start")
        except lark.exceptions.UnexpectedInput as exc:
            errors.append(_syntax_error(source, exc))
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
        to_ast = _ToAst(source)
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


def _syntax_error(source: SourceFile, exc: lark.exceptions.UnexpectedInput) -> Diagnostic:
    line, column = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        char = source.text[exc.pos_in_stream] if exc.pos_in_stream < len(source.text) else "?"
        hint = character_hint(source.text, exc.pos_in_stream)
        return error(
            "NL1001",
            f"unexpected character `{char}`",
            source.span(line, column, line, column + 1),
            hint=hint,
        )
    token = getattr(exc, "token", None)
    if isinstance(exc, lark.exceptions.UnexpectedEOF) or (
        token is not None and token.type == "$END"
    ):
        last = split_lines(source.text.rstrip()) or [""]
        end_line, end_column = len(last), len(last[-1]) + 1
        opened = unclosed_bracket(source.text, len(source.text))
        secondary = ()
        if opened is not None:
            o_line, o_column, bracket = opened
            where = source.span(o_line, o_column, o_line, o_column + 1)
            secondary = (Label(where, f"`{bracket}` opened here and never closed"),)
        return error(
            "NL1003",
            "unexpected end of file",
            source.span(end_line, end_column, end_line, end_column + 1),
            hint=eof_hint(source.text),
            secondary=secondary,
        )
    assert token is not None
    expected = sorted({_describe(t) for t in getattr(exc, "expected", ())})
    earlier = misplaced(source.text, exc.pos_in_stream, expected)
    if earlier is not None:
        (s_line, s_column), (e_line, e_column), message, hint = earlier
        return error("NL1002", message, source.span(s_line, s_column, e_line, e_column), hint=hint)
    width = max(1, len(str(token)))
    hint = token_hint(str(token), expected) or comma_hint(source.text, exc.pos_in_stream, expected)
    hint = hint or reserved_hint(source.text, exc.pos_in_stream, keywords())
    if hint is None and 0 < len(expected) <= 5:
        hint = (
            "expected "
            + ", ".join(expected[:-1])
            + (" or " if len(expected) > 1 else "")
            + expected[-1]
        )
    secondary = ()
    opened = unclosed_bracket(source.text, exc.pos_in_stream)
    specific = hint is not None and not hint.startswith("expected ")
    # an unexpected token inside a body is rarely a missing `}`; inside ( or [ it often is
    if (
        opened is not None
        and opened[2] in "(["
        and f"`{CLOSERS[opened[2]]}`" in expected
        and not specific
    ):
        o_line, o_column, bracket = opened
        label = Label(
            source.span(o_line, o_column, o_line, o_column + 1), f"`{bracket}` opened here"
        )
        secondary = (label,)
        hint = f"close the `{bracket}` opened at line {o_line} with `{CLOSERS[bracket]}`"
    return error(
        "NL1002",
        f"unexpected `{token}`",
        source.span(line, column, line, column + width),
        hint=hint,
        secondary=secondary,
    )


def _describe(terminal: str) -> str:
    """A terminal as a person would name it: `{`, a name, end of file."""
    if terminal in TOKEN_NAMES:
        return TOKEN_NAMES[terminal]
    pattern = _parser().get_terminal(terminal).pattern
    return f"`{pattern.value}`" if pattern.type == "str" else terminal.lower()


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


def _string(token: Token) -> str:
    """The value of a string literal: quotes removed, simple escapes resolved."""
    body, out, i = str(token)[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive[Token, Any]):
    """Parse tree -> AST. Structural only: no name lookup or evaluation happens here. Not
    recursive, so a 10,000-stage `->` chain or deep nesting builds without exhausting the stack."""

    def __init__(self, source: SourceFile) -> None:
        super().__init__()
        self.source = source
        self.errors: list[Diagnostic] = []  # syntax errors inside interpolated labels

    def _span(self, meta: Any) -> Span:
        if getattr(meta, "empty", False):
            return self.source.span(1, 1, 1, 1)
        return self.source.span(meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, token: Token) -> Span:
        return self.source.span(
            token.line,
            token.column,
            token.end_line or token.line,
            token.end_column or token.column + len(token),
        )

    # ---- top level
    def start(self, meta: Any, items: list[ast.Definition]) -> ast.Module:
        return ast.Module(self._span(meta), tuple(items))

    def import_decl(self, meta: Any, c: list[Token]) -> ast.Import:
        return ast.Import(self._span(meta), _string(c[0]))

    def const_decl(self, meta: Any, c: list[Any]) -> ast.ConstDef:
        return ast.ConstDef(self._span(meta), str(c[0]), c[1])

    def model_def(self, meta: Any, c: list[Any]) -> ast.ModelDef:
        return ast.ModelDef(self._span(meta), str(c[0]), c[1] or (), c[2])

    def model_alias(self, meta: Any, c: list[Any]) -> ast.ModelDef:
        name, params, base, arguments, body = c
        args, keywords = arguments or ((), ())
        call = ast.Call(self._span(meta), ast.Name(self._tok(base), str(base)), args, keywords)
        return ast.ModelDef(self._span(meta), str(name), params or (), body or (), call)

    def block_def(self, meta: Any, c: list[Any]) -> ast.BlockDef:
        params, inputs = (c[1], c[2]) if c[2] is not None else ((), c[1])
        return ast.BlockDef(self._span(meta), str(c[0]), params, inputs, c[3])

    def train_def(self, meta: Any, c: list[Any]) -> ast.TrainDef:
        return ast.TrainDef(self._span(meta), str(c[0]), tuple(x for x in c[1:] if x is not None))

    def params(self, meta: Any, c: list[Any]) -> tuple[ast.Param, ...]:
        return tuple(p for p in c if p is not None)

    def param(self, meta: Any, c: list[Any]) -> ast.Param:
        return ast.Param(self._span(meta), str(c[0]), str(c[1]) if c[1] else None, c[2])

    def param_default(self, meta: Any, c: list[Any]) -> ast.Param:
        return ast.Param(self._span(meta), str(c[0]), None, c[1])

    def param_typed_default(self, meta: Any, c: list[Any]) -> ast.Param:
        return ast.Param(self._span(meta), str(c[0]), str(c[1]), c[2])

    def body(self, meta: Any, c: list[Any]) -> tuple[ast.Stmt, ...]:
        return tuple(s for s in c if isinstance(s, ast.Node))

    # ---- statements
    def input_decl(self, meta: Any, c: list[Any]) -> ast.InputDecl:
        dtype, dims = c[1]
        return ast.InputDecl(self._span(meta), str(c[0]), dtype, dims)

    def tensor_type(self, meta: Any, c: list[Any]) -> tuple[str, tuple[ast.Expr, ...]]:
        return str(c[0]), tuple(d for d in c[1:] if d is not None)

    def shape_annotation(self, meta: Any, c: list[Any]) -> ast.ShapeAnnotation:
        return ast.ShapeAnnotation(
            self._span(meta), str(c[0]) if c[0] else None, tuple(d for d in c[1:] if d is not None)
        )

    def output_decl(self, meta: Any, c: list[Token]) -> ast.OutputDecl:
        return ast.OutputDecl(self._span(meta), tuple(ast.Name(self._tok(t), str(t)) for t in c))

    def assign(self, meta: Any, c: list[Any]) -> ast.Assign:
        targets = tuple(ast.Name(self._tok(t), str(t)) for t in c[:-1])
        return ast.Assign(self._span(meta), targets, c[-1])

    def annotated_assign(self, meta: Any, c: list[Any]) -> ast.Assign:
        return ast.Assign(self._span(meta), (ast.Name(self._tok(c[0]), str(c[0])),), c[2], c[1])

    def return_stmt(self, meta: Any, c: list[Any]) -> ast.Return:
        return ast.Return(self._span(meta), tuple(c))

    def if_stmt(self, meta: Any, c: list[Any]) -> ast.If:
        return ast.If(self._span(meta), c[0], c[1], c[2] or ())

    def elif_clause(self, meta: Any, c: list[Any]) -> tuple[ast.Stmt, ...]:
        return (ast.If(self._span(meta), c[0], c[1], c[2] or ()),)

    def else_clause(self, meta: Any, c: list[Any]) -> tuple[ast.Stmt, ...]:
        return tuple(c[0])

    def for_stmt(self, meta: Any, c: list[Any]) -> ast.For:
        return ast.For(self._span(meta), ast.Name(self._tok(c[0]), str(c[0])), c[1], c[2])

    def assert_stmt(self, meta: Any, c: list[Any]) -> ast.Assert:
        return ast.Assert(self._span(meta), c[0], _string(c[1]) if c[1] else None)

    def test_block(self, meta: Any, c: list[Any]) -> ast.TestBlock:
        return ast.TestBlock(self._span(meta), tuple(x for x in c if isinstance(x, ast.Node)))

    def test_shapes(self, meta: Any, c: list[Any]) -> ast.TestShapes:
        return ast.TestShapes(self._span(meta), c[0], c[1])

    def shape_list(self, meta: Any, c: list[Any]) -> tuple[ast.Expr, ...]:
        return tuple(c)

    def test_check(self, meta: Any, c: list[Any]) -> ast.TestCheck:
        return ast.TestCheck(self._span(meta), c[0])

    def doc(self, meta: Any, c: list[Token]) -> ast.Doc:
        return ast.Doc(self._span(meta), _string(c[0]))

    # ---- train sections
    def train_entry(self, meta: Any, c: list[Any]) -> ast.TrainEntry:
        return ast.TrainEntry(self._span(meta), str(c[0]), c[1])

    def train_kwargs(self, meta: Any, c: list[Any]) -> ast.TrainEntry:
        span = self._span(meta)
        call = ast.Call(span, ast.Name(self._tok(c[0]), str(c[0])), (), tuple(c[1:]))
        return ast.TrainEntry(span, str(c[0]), call)

    def stage_def(self, meta: Any, c: list[Any]) -> ast.StageDef:
        return ast.StageDef(self._span(meta), str(c[0]), tuple(x for x in c[1:] if x is not None))

    # ---- expressions
    def flow(self, meta: Any, c: list[Any]) -> ast.Flow:
        source, stage = c
        if isinstance(source, ast.Flow):
            return ast.Flow(self._span(meta), source.source, (*source.stages, stage))
        return ast.Flow(self._span(meta), source, (stage,))

    def stage(self, meta: Any, c: list[Any]) -> ast.Stage:
        label = c[0]
        return ast.Stage(
            self._span(meta),
            str(label) if label else None,
            self._tok(label) if label else None,
            c[1],
            self._label_parts(label) if label and "{" in label else (),
        )

    def labelled_call(self, meta: Any, c: list[Any]) -> ast.Stage:
        """`class_token: param([1, 1, 768])` as an expression: a call applied under a label."""
        return self.stage(meta, c)

    def _label_parts(self, label: Token) -> tuple[str | ast.Expr, ...]:
        """`denselayer{i + 1}` -> ("denselayer", <i + 1>): each `{...}` parsed as an expression
        at its own place in the file, so its spans are the file's."""
        parts: list[str | ast.Expr] = []
        offset = label.start_pos
        for piece in re.split(r"(\{[^{}]*\})", str(label)):
            start, offset = offset + 1, offset + len(piece)
            if not piece.startswith("{"):
                parts.extend([piece] if piece else [])
                continue
            text = re.sub(r"[^\n]", " ", self.source.text[:start]) + piece[1:-1]
            try:
                parts.append(self.transform(_parser().parse(text, start="expr")))
            except lark.exceptions.UnexpectedInput as exc:
                self.errors.append(_syntax_error(self.source, exc))
                parts.append(ast.Constant(self._tok(label), ""))
        return tuple(parts)

    def stage_name(self, meta: Any, c: list[Token]) -> ast.Name:
        return ast.Name(self._span(meta), str(c[0]))

    def stage_call(self, meta: Any, c: list[Any]) -> ast.Call:
        args, keywords = c[1] or ((), ())
        return ast.Call(self._span(meta), ast.Name(self._tok(c[0]), str(c[0])), args, keywords)

    def group(self, meta: Any, c: list[ast.Stage]) -> ast.Group:
        return ast.Group(self._span(meta), tuple(c))

    def call(self, meta: Any, c: list[Any]) -> ast.Call:
        args, keywords = c[1] or ((), ())
        return ast.Call(self._span(meta), c[0], args, keywords)

    def arguments(
        self, meta: Any, c: list[Any]
    ) -> tuple[tuple[ast.Expr, ...], tuple[ast.Keyword, ...]]:
        items = [x for x in c if x is not None]
        return (
            tuple(x for x in items if not isinstance(x, ast.Keyword)),
            tuple(x for x in items if isinstance(x, ast.Keyword)),
        )

    def keyword(self, meta: Any, c: list[Any]) -> ast.Keyword:
        return ast.Keyword(self._span(meta), str(c[0]), c[1])

    def index(self, meta: Any, c: list[Any]) -> ast.Index:
        return ast.Index(self._span(meta), c[0], c[1])

    def or_op(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary(self._span(meta), "or", c[0], c[1])

    def and_op(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary(self._span(meta), "and", c[0], c[1])

    def not_op(self, meta: Any, c: list[Any]) -> ast.Unary:
        return ast.Unary(self._span(meta), "not", c[0])

    def compare(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary(self._span(meta), str(c[1]), c[0], c[2])

    binary = compare

    def power(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary(self._span(meta), "**", c[0], c[1])

    def unary(self, meta: Any, c: list[Any]) -> ast.Unary:
        return ast.Unary(self._span(meta), str(c[0]), c[1])

    def name(self, meta: Any, c: list[Token]) -> ast.Name:
        return ast.Name(self._span(meta), str(c[0]))

    def int(self, meta: Any, c: list[Token]) -> ast.Constant:
        return ast.Constant(self._span(meta), int(str(c[0]).replace("_", "")))

    def float(self, meta: Any, c: list[Token]) -> ast.Constant:
        return ast.Constant(self._span(meta), float(str(c[0]).replace("_", "")))

    def string(self, meta: Any, c: list[Token]) -> ast.Constant:
        return ast.Constant(self._span(meta), _string(c[0]))

    def true(self, meta: Any, c: list[Any]) -> ast.Constant:
        return ast.Constant(self._span(meta), True)

    def false(self, meta: Any, c: list[Any]) -> ast.Constant:
        return ast.Constant(self._span(meta), False)

    def list(self, meta: Any, c: list[Any]) -> ast.ListExpr:
        return ast.ListExpr(self._span(meta), tuple(x for x in c if x is not None))

    def tuple(self, meta: Any, c: list[Any]) -> ast.TupleExpr:
        return ast.TupleExpr(self._span(meta), tuple(x for x in c if x is not None))


def keywords() -> list[str]:
    """The reserved words, as the grammar spells them (editors highlight and complete these)."""
    words = {
        t.pattern.value
        for t in _parser().terminals
        if t.pattern.type == "str" and t.pattern.value.isidentifier()
    }
    return sorted(words)
