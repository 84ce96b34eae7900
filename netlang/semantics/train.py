"""Train sections: ast.TrainDef -> TrainSpec, checked strictly against `train_schema.SCHEMA`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netlang.diagnostics import Diagnostic, DiagnosticSink, did_you_mean, error
from netlang.ops.registry import describe
from netlang.semantics.elaborate import Elaborator
from netlang.semantics.frames import Failed, Frame, Scope, fail
from netlang.semantics.loader import Unit
from netlang.semantics.values import Layer, Poison
from netlang.diagnostics.source import Position, Span
from netlang.syntax import ast
from netlang.semantics import train_rules as rules
from netlang.semantics.train_schema import SCHEMA, STAGE_KEYS
from netlang.semantics.train_spec import Call, Stage, TrainSpec

_PLAIN = {"int": int, "float": (int, float), "bool": bool, "str": str, "list": list, "dict": Call}
LISTS = {"regularize", "augment"}  # keys that take one call or a list of calls


def elaborate_train(
    train: ast.TrainDef,
    unit: Unit,
    arguments: dict[str, Any],
    sink: DiagnosticSink,
    overrides: Sequence[ast.TrainEntry] = (),
) -> TrainSpec:
    """Evaluate a train section with the model's arguments in scope; unknown names are symbols.
    `overrides` (from `--set`) replace the section's entries of the same key."""
    elaborator = Elaborator(unit, sink)
    frame = Frame(unit, Scope(()), "train", variables=dict(arguments), symbols=True)
    spec = TrainSpec(train.model, {}, span=train.span)
    keys = {entry.key for entry in overrides}
    kept = tuple(e for e in train.entries if not isinstance(e, ast.TrainEntry) or e.key not in keys)
    spec.entries = _entries(
        (*kept, *overrides), elaborator, frame, spec, sink, top=True, replaced=keys
    )
    if not any(isinstance(e, ast.TrainEntry) and e.key == "data" for e in (*kept, *overrides)):
        message = f"the train section of {train.model} names no data"
        hint = "add e.g. `data digits(split = [0.8, 0.1, 0.1])`"
        sink.report(error("NL2050", message, train.span, hint=hint))
    return spec


def _entries(
    items: tuple[ast.TrainEntry | ast.StageDef, ...],
    elaborator: Elaborator,
    frame: Frame,
    spec: TrainSpec,
    sink: DiagnosticSink,
    top: bool,
    replaced: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The entries' values; a `--set` key in `replaced` replaces the section's value wherever the
    section gives it (`--set lr=0.1` is the learning rate, as `--lr 0.1` is, even where the
    section writes `optimizer adam(lr=1e-3)`)."""
    entries: dict[str, Any] = {}
    for item in items:
        try:
            if isinstance(item, ast.StageDef):
                if not top:
                    raise fail("NL2015", "stages cannot be nested", item.span)
                if any(s.name == item.name for s in spec.stages):
                    raise fail("NL2006", f"stage `{item.name}` is defined twice", item.span)
                stage_entries = _entries(item.entries, elaborator, frame, spec, sink, top=False)
                spec.stages.append(Stage(item.name, stage_entries, item.span))
                continue
            if item.key in entries:
                raise fail("NL2006", f"`{item.key}` is given twice", item.span)
            if not top and item.key in SCHEMA and item.key not in STAGE_KEYS:
                raise fail(
                    "NL2015",
                    f"a stage cannot set `{item.key}`: it holds for the whole run",
                    item.span,
                    f"set it in the train section, outside the stage; a stage may set "
                    f"{', '.join(STAGE_KEYS)}",
                )
            value = elaborator.eval(item.value, frame)
            if isinstance(value, Poison):
                continue
            entries[item.key] = _check(item, value)
            spec.spans.setdefault(item.key, item.span)
            if isinstance(item.value, ast.ListExpr) and isinstance(value, list):
                written = spec.item_spans.setdefault(item.key, {})
                for text, node in zip(value, item.value.items):
                    if isinstance(text, str):
                        written.setdefault(text, node.span)
            for problem in _value_problems(item.key, entries[item.key], item):
                sink.report(problem)
        except Failed as failed:
            sink.report(failed.diagnostic)
    if "lr" in replaced and "optimizer" not in replaced and "optimizer" in entries:
        entries["optimizer"] = rules.without_lr(entries["optimizer"])
    for key, message in rules.section_problems(entries):
        where = spec.spans.get(key) or spec.span
        if where is not None:
            sink.report(error("NL2050", message, where))
    return entries


def _value_problems(key: str, value: Any, item: ast.TrainEntry) -> list[Diagnostic]:
    """The trainer's value rules (train_rules) on one entry, a diagnostic per bad call, so a
    section `check` accepts is one train takes; each under the refused value, with the rule's
    suggestion as its hint."""
    if key in rules.SETTINGS:
        try:
            rules.SETTINGS[key](f"train.{key}", value)
        except ValueError as problem:
            return [_rule_error(problem, item.value.span)]
        return []
    table = SCHEMA[key]
    if not isinstance(table, dict) or isinstance(value, bool):
        return []
    problems = []
    for call in value if isinstance(value, list) else [value]:
        if isinstance(call, Layer):
            call = _as_call(call)
        try:
            rules.check_arguments(key, call.name, call.bind(table[call.name]))
        except rules.RuleError as problem:
            where = call.value_span(problem.argument, table[call.name]) or item.span
            problems.append(_rule_error(problem, where))
        except ValueError as problem:
            problems.append(_rule_error(problem, call.span or item.span))
    return problems


def _rule_error(problem: ValueError, span: Span) -> Diagnostic:
    if isinstance(problem, rules.RuleError):
        return error("NL2050", problem.message, span, hint=problem.hint)
    return error("NL2050", str(problem), span)


def _as_call(layer: Layer) -> Call:
    """A train value read as a layer (`hflip(0.5)` names an op too) as the Call it means."""
    return Call(
        layer.name, layer.args, layer.kwargs, layer.span, layer.arg_spans, layer.kwarg_spans
    )


def _check(item: ast.TrainEntry, value: Any) -> Any:
    rule = SCHEMA.get(item.key)
    span = item.span
    if rule is None:
        raise fail(
            "NL2015",
            f"unknown train setting `{item.key}`",
            span,
            did_you_mean(item.key, SCHEMA) or "settings: " + ", ".join(sorted(SCHEMA)),
        )
    if isinstance(rule, str):
        wanted = _PLAIN[rule]
        if isinstance(value, bool) and rule not in ("bool",) or not isinstance(value, wanted):
            if not (rule == "dict" and isinstance(value, Call)):
                raise fail(
                    "NL2005", f"`{item.key}` takes {_article(rule)}, got {describe(value)}", span
                )
        return value
    calls = value if item.key in LISTS and isinstance(value, list) else [value]
    for call in calls:
        _check_call(item.key, call, rule, span)
    return calls if item.key in LISTS else value


def _check_call(key: str, call: Any, table: dict[str, tuple[str, ...]], span: Span) -> None:
    if isinstance(call, Layer):
        call = _as_call(call)
    if not isinstance(call, Call):
        raise fail("NL2005", f"`{key}` takes one of {', '.join(table)}, got {describe(call)}", span)
    where = call.span or span
    if call.name not in table:
        start = where.start  # a call starts with its name: the caret goes under the name alone
        name = Span(where.file, start, Position(start.line, start.column + len(call.name)))
        raise fail(
            "NL2015",
            f"unknown {key} `{call.name}`",
            name if call.span is not None else where,
            did_you_mean(call.name, table) or f"choose one of {', '.join(table)}",
        )
    params = table[call.name]
    if len(call.args) > len(params):
        raise fail(
            "NL2017",
            f"{call.name} takes at most {len(params)} positional argument"
            f"{'s' if len(params) != 1 else ''}, got {len(call.args)}",
            where,
        )
    for name in call.kwargs:
        if name not in params:
            raise fail(
                "NL2003",
                f"{call.name} has no argument `{name}`",
                where,
                did_you_mean(name, params)
                or (
                    f"{call.name} takes: {', '.join(params)}"
                    if params
                    else f"{call.name} takes no arguments"
                ),
            )


def _article(kind: str) -> str:
    return {
        "int": "an integer",
        "float": "a number",
        "bool": "`true` or `false`",
        "str": "a string",
        "list": "a list",
        "dict": "named values",
    }[kind]


def check_train_targets(unit: Unit, sink: DiagnosticSink) -> dict[str, ast.TrainDef]:
    """Train sections by model; each must name a model of this program, once."""
    sections: dict[str, ast.TrainDef] = {}
    models = [n for n, (_, d) in unit.namespace.items() if isinstance(d, ast.ModelDef)]
    for train in unit.trains:
        if train.model not in models:
            sink.report(
                error(
                    "NL2014",
                    f"train section for unknown model `{train.model}`",
                    train.span,
                    hint=did_you_mean(train.model, models),
                )
            )
        elif train.model in sections:
            sink.report(
                error("NL2006", f"model `{train.model}` has two train sections", train.span)
            )
        else:
            sections[train.model] = train
    return sections
