"""The AST: frozen dataclasses named after grammar rules, each with the span it came from."""

from __future__ import annotations

from dataclasses import dataclass

from netlang.diagnostics.source import Span


@dataclass(frozen=True, slots=True)
class Node:
    span: Span


# ---- expressions ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Name(Node):
    id: str


@dataclass(frozen=True, slots=True)
class Constant(Node):
    value: int | float | str | bool


@dataclass(frozen=True, slots=True)
class ListExpr(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class TupleExpr(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "-", "+", "not"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # arithmetic, comparison, "and", "or"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Keyword(Node):
    name: str
    value: Expr


@dataclass(frozen=True, slots=True)
class Call(Node):
    func: Expr
    args: tuple[Expr, ...]
    keywords: tuple[Keyword, ...]


@dataclass(frozen=True, slots=True)
class Index(Node):
    value: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Stage(Node):
    """One step of a flow: a layer or block (`relu`, `conv2d(6, 5)`) or a group, maybe labelled."""

    label: str | None
    label_span: Span | None
    body: Name | Call | Group
    label_parts: tuple[str | Expr, ...] = ()  # an interpolated label: text and `{expr}` parts


@dataclass(frozen=True, slots=True)
class Group(Node):
    """`{ a -> b }`: a sequence of stages in a scope of its own (torch's nn.Sequential)."""

    stages: tuple[Stage, ...]


@dataclass(frozen=True, slots=True)
class Flow(Node):
    """`source -> stage -> stage ...`"""

    source: Expr
    stages: tuple[Stage, ...]


# A Stage stands as an expression only as a labelled call (`class_token: param([1, 1, 768])`).
Expr = Name | Constant | ListExpr | TupleExpr | Unary | Binary | Call | Index | Flow | Stage


# ---- statements -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InputDecl(Node):
    name: str
    dtype: str
    dims: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class OutputDecl(Node):
    names: tuple[Name, ...]


@dataclass(frozen=True, slots=True)
class ShapeAnnotation(Node):
    dtype: str | None
    dims: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Assign(Node):
    targets: tuple[Name, ...]
    value: Expr
    annotation: ShapeAnnotation | None = None


@dataclass(frozen=True, slots=True)
class Return(Node):
    values: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class If(Node):
    condition: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class For(Node):
    var: Name
    iterable: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class Assert(Node):
    condition: Expr
    message: str | None


@dataclass(frozen=True, slots=True)
class TestShapes(Node):
    inputs: tuple[Expr, ...]
    outputs: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class TestCheck(Node):
    condition: Expr


@dataclass(frozen=True, slots=True)
class TestBlock(Node):
    items: tuple[TestShapes | TestCheck, ...]


@dataclass(frozen=True, slots=True)
class Doc(Node):
    text: str


Stmt = InputDecl | OutputDecl | Assign | Return | If | For | Assert | TestBlock | Doc


# ---- definitions ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Param(Node):
    name: str
    type: str | None
    default: Expr | None


@dataclass(frozen=True, slots=True)
class ModelDef(Node):
    """`model Name(params) { body }`, or an alias `model Name(params) = Base(args) { tests }`."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    base: Call | None = None


@dataclass(frozen=True, slots=True)
class BlockDef(Node):
    name: str
    params: tuple[Param, ...]
    inputs: tuple[Param, ...]
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class TrainEntry(Node):
    key: str
    value: Expr  # `key value`, or a Call of `key` for `key a=1 b=2`


@dataclass(frozen=True, slots=True)
class StageDef(Node):
    name: str
    entries: tuple[TrainEntry | StageDef, ...]


@dataclass(frozen=True, slots=True)
class TrainDef(Node):
    model: str
    entries: tuple[TrainEntry | StageDef, ...]


@dataclass(frozen=True, slots=True)
class Import(Node):
    path: str


@dataclass(frozen=True, slots=True)
class ConstDef(Node):
    name: str
    value: Expr


Definition = Import | ConstDef | ModelDef | BlockDef | TrainDef


@dataclass(frozen=True, slots=True)
class Module(Node):
    items: tuple[Definition, ...]
