"""The static cost report: per-layer shapes, parameters, multiply-accumulates and memory,
from the IR."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netlang.ir.types import format_shape, numel

if TYPE_CHECKING:
    from netlang.ir.graph import Graph

BYTES = {"float32": 4, "float16": 2, "float64": 8, "int64": 8, "int32": 4, "bool": 1}


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    op: str
    shape: str
    params: int
    macs: int


@dataclass(frozen=True, slots=True)
class Summary:
    model: str
    doc: str
    rows: tuple[Row, ...]
    totals: dict[str, int]  # params, trainable, macs, param_bytes, activation_bytes (per sample)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "doc": self.doc,
            "layers": [
                {
                    "name": r.name,
                    "op": r.op,
                    "output_shape": r.shape,
                    "params": r.params,
                    "macs": r.macs,
                }
                for r in self.rows
            ],
            "totals": self.totals,
        }


def summarize(graph: Graph) -> Summary:
    rows = []
    activations = 0
    for node in graph.nodes:
        rows.append(
            Row(
                node.name,
                node.op,
                ", ".join(format_shape(t.shape) for t in node.output_types),
                node.param_count,
                node.macs,
            )
        )
        activations += sum(numel(t.shape) * BYTES.get(t.dtype, 4) for t in node.output_types)
    counts = totals(graph)
    counts.update(param_bytes=4 * counts["params"], activation_bytes=activations)
    return Summary(graph.name, graph.doc, tuple(rows), counts)


def totals(graph: Graph) -> dict[str, int]:
    """Parameters and multiply-accumulates of the whole graph, without the rows (a model's
    `test { params == ... }` reads these on every check)."""
    params = graph.param_count
    return {"params": params, "trainable": params, "macs": sum(n.macs for n in graph.nodes)}


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError


def format_summary(summary: Summary) -> str:
    header = ("layer", "op", "output shape", "params")
    table = [header] + [(r.name, r.op, r.shape, f"{r.params:,}") for r in summary.rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()

    rule = "-" * len(line(header))
    t = summary.totals
    title = f"model {summary.model}" + (f": {summary.doc}" if summary.doc else "")
    lines = [
        title,
        rule,
        line(header),
        rule,
        *map(line, table[1:]),
        rule,
        f"total parameters:     {t['params']:,}",
        f"trainable parameters: {t['trainable']:,}",
        f"multiply-accumulates: {t['macs']:,} per sample",
        f"parameter memory:     {_size(t['param_bytes'])} (float32)",
        f"activation memory:    {_size(t['activation_bytes'])} per sample",
    ]
    return "\n".join(lines)
