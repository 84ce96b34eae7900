"""Expression layout for `netlang fmt`: ast.Expr -> text, on one line where it fits, else broken.

Newlines carry no meaning in `.net`, so an expression may break at any token; the layout breaks
flows one stage a line with the arrows aligned, and fills calls and lists like a paragraph with
continuation lines aligned after the opening bracket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from netlang.diagnostics.source import Span
from netlang.syntax import ast

WIDTH = 100

# Binding strength, loosest first: a subexpression looser than its slot needs parentheses.
FLOW, OR, AND, NOT, CMP, ARITH, TERM, UNARY, POWER, ATOM = range(10)
_BINARY = {"or": OR, "and": AND, "+": ARITH, "-": ARITH, "**": POWER}
_BINARY |= dict.fromkeys(("*", "/", "//", "%"), TERM)


@dataclass
class StageNotes:
    """Comments that belong to one stage of a broken flow."""

    before: list[str] = field(default_factory=list)  # own lines above the stage
    after: str | None = None  # at the end of the stage's line


def precedence(expr: ast.Expr) -> int:
    match expr:
        case ast.Flow():
            return FLOW
        case ast.Binary(op=op):
            return _BINARY.get(op, CMP)
        case ast.Unary(op="not"):
            return NOT
        case ast.Unary():
            return UNARY
    return ATOM


def _operand_slots(expr: ast.Binary) -> tuple[int, int]:
    """The weakest precedence each operand may have without parentheses."""
    own = precedence(expr)
    if own == POWER:
        return ATOM, UNARY
    if own == CMP:  # comparisons do not chain
        return ARITH, ARITH
    return own, own + 1  # left-associative


def end_column(text: str, column: int) -> int:
    """The column after `text` when it starts at `column`."""
    return len(text) - text.rfind("\n") - 1 if "\n" in text else column + len(text)


Item = tuple[str, ast.Expr | None]  # a prefix (`name=`, `name: int = `) and its expression


class ExprPrinter:
    """Lays expressions out; `literal` gives a number's or string's source text as written."""

    def __init__(self, literal: Callable[[Span], str]) -> None:
        self.literal = literal
        self.notes: dict[int, StageNotes] = {}  # by id() of an ast.Stage

    # ---- one line
    def flat(self, expr: ast.Expr, slot: int = FLOW) -> str:
        text = self._flat(expr)
        return f"({text})" if precedence(expr) < slot else text

    def _flat(self, expr: ast.Expr) -> str:
        match expr:
            case ast.Name(id=name):
                return name
            case ast.Constant(value=bool() as value):
                return "true" if value else "false"
            case ast.Constant():
                return self.literal(expr.span)
            case ast.ListExpr(items=items):
                return "[" + ", ".join(self.flat(i) for i in items) + "]"
            case ast.TupleExpr(items=items):
                return (
                    "(" + ", ".join(self.flat(i) for i in items) + ("," * (len(items) == 1)) + ")"
                )
            case ast.Unary(op="not"):
                return "not " + self.flat(expr.operand, NOT)
            case ast.Unary():
                return expr.op + self.flat(expr.operand, UNARY)
            case ast.Binary():
                left, right = _operand_slots(expr)
                return f"{self.flat(expr.left, left)} {expr.op} {self.flat(expr.right, right)}"
            case ast.Call():
                items = self.call_items(expr)
                return (
                    self.flat(expr.func, ATOM) + "(" + ", ".join(self.item(i) for i in items) + ")"
                )
            case ast.Index():
                return f"{self.flat(expr.value, ATOM)}[{self.flat(expr.index)}]"
            case ast.Flow():
                stages = [self.flat_stage(s) for s in expr.stages]
                return " -> ".join([self.flat(expr.source, OR), *stages])
            case ast.Stage():
                return self.flat_stage(expr)
        raise TypeError(f"not an expression: {expr!r}")

    def item(self, item: Item) -> str:
        prefix, expr = item
        return prefix + (self.flat(expr) if expr is not None else "")

    @staticmethod
    def call_items(call: ast.Call) -> list[Item]:
        return [("", a) for a in call.args] + [(f"{k.name}=", k.value) for k in call.keywords]

    def flat_stage(self, stage: ast.Stage) -> str:
        label = f"{stage.label}: " if stage.label else ""
        if isinstance(stage.body, ast.Group):
            return label + "{ " + " -> ".join(self.flat_stage(s) for s in stage.body.stages) + " }"
        return label + self.flat(stage.body)

    # ---- broken where too long
    def layout(
        self, expr: ast.Expr, column: int, indent: int, tail: int = 0, slot: int = FLOW
    ) -> str:
        """`expr` starting at `column`, with `tail` characters to follow it on its last line;
        `indent` is where the enclosing statement starts (broken flows indent from it)."""
        flat = self.flat(expr, slot)
        if column + len(flat) + tail <= WIDTH and not self._has_notes(expr):
            return flat
        if precedence(expr) < slot:
            return "(" + self.layout(expr, column + 1, indent, tail + 1) + ")"
        match expr:
            case ast.Flow():
                return self._flow(expr, column, indent, tail)
            case ast.Stage():
                return self.stage(expr, column, tail)
            case ast.Call():
                head = self.flat(expr.func, ATOM) + "("
                return head + self.fill(self.call_items(expr), ")", column + len(head), tail)
            case ast.ListExpr(items=items):
                return "[" + self.fill([("", i) for i in items], "]", column + 1, tail)
            case ast.TupleExpr(items=items):
                close = ",)" if len(items) == 1 else ")"
                return "(" + self.fill([("", i) for i in items], close, column + 1, tail)
            case ast.Binary():
                left_slot, right_slot = _operand_slots(expr)
                left = self.layout(expr.left, column, indent, len(expr.op) + 2, left_slot)
                at = end_column(left, column) + len(expr.op) + 2
                return f"{left} {expr.op} " + self.layout(expr.right, at, indent, tail, right_slot)
            case ast.Index():
                value = self.layout(expr.value, column, indent, 1, ATOM) + "["
                at = end_column(value, column)
                return value + self.layout(expr.index, at, at, tail + 1) + "]"
        return flat

    def fill(self, items: Sequence[Item], close: str, column: int, tail: int) -> str:
        """Items separated by `, `, as many a line as fit; continuation lines start at `column`
        (just after the opening bracket, which the caller has written)."""
        out, at = "", column
        for i, (prefix, expr) in enumerate(items):
            last = i == len(items) - 1
            after = len(close) + tail if last else 1
            text = self.item((prefix, expr))
            if i:
                if at + 1 + len(text) + after <= WIDTH:
                    out, at = out + " ", at + 1
                else:
                    out, at = out + "\n" + " " * column, column
            if at + len(text) + after > WIDTH and expr is not None:
                text = prefix + self.layout(expr, at + len(prefix), column, after)
            out += text + ("" if last else ",")
            at = end_column(text, at) + (0 if last else 1)
        return out + close

    def _has_notes(self, expr: ast.Expr) -> bool:
        return isinstance(expr, ast.Flow) and any(id(s) in self.notes for s in expr.stages)

    def _flow(self, flow: ast.Flow, column: int, indent: int, tail: int) -> str:
        """`source -> a` with each further `-> stage` aligned under the first arrow where every
        stage then fits; otherwise the source alone and the stages indented below it."""
        source = self.layout(flow.source, column, indent, 3, OR)
        first = self.notes.get(id(flow.stages[0]))
        if "\n" not in source and not (first and first.before):
            arrow = column + len(source) + 1
            widths = [len(self.flat_stage(s)) for s in flow.stages]
            if (
                all(arrow + 3 + w <= WIDTH for w in widths[:-1])
                and arrow + 3 + widths[-1] + tail <= WIDTH
            ):
                return self._stages(source + " ", flow.stages, arrow, True, tail)
        return self._stages(source, flow.stages, indent + 4, False, tail)

    def _stages(
        self, head: str, stages: Sequence[ast.Stage], arrow: int, inline: bool, tail: int
    ) -> str:
        pad, text = " " * arrow, head
        for i, stage in enumerate(stages):
            notes = self.notes.get(id(stage), StageNotes())
            if i or not inline:
                text += "".join(f"\n{pad}{comment}" for comment in notes.before) + "\n" + pad
            after = tail if i == len(stages) - 1 else 0
            text += "-> " + self.stage(stage, arrow + 3, after)
            if notes.after:
                text += "  " + notes.after
        return text

    def stage(self, stage: ast.Stage, column: int, tail: int) -> str:
        flat = self.flat_stage(stage)
        if column + len(flat) + tail <= WIDTH:
            return flat
        label = f"{stage.label}: " if stage.label else ""
        column += len(label)
        if not isinstance(stage.body, ast.Group):
            return label + self.layout(stage.body, column, column, tail)
        stages = stage.body.stages
        first = self.stage(stages[0], column + 2, 0 if len(stages) > 1 else tail + 2)
        if len(stages) == 1:
            return label + "{ " + first + " }"
        return label + "{ " + self._stages(first, stages[1:], column + 2, False, tail + 2) + " }"
