"""Parse tree -> AST: frozen dataclasses with the file's spans (structural only)."""

from __future__ import annotations

import re
from typing import Any

import lark
from lark import Token, v_args
from lark.visitors import Transformer_NonRecursive

from netlang.diagnostics import Diagnostic
from netlang.diagnostics.source import SourceFile, Span
from netlang.syntax import ast
from netlang.syntax.lalr import lalr_parser, syntax_error

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
class ToAst(Transformer_NonRecursive[Token, Any]):
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
                parts.append(self.transform(lalr_parser().parse(text, start="expr")))
            except lark.exceptions.UnexpectedInput as exc:
                self.errors.append(syntax_error(self.source, exc))
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
