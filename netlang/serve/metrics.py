"""Prometheus metrics: counters, gauges and histograms -> the text exposition format for /metrics.

A few dozen lines instead of a prometheus_client dependency. Names follow Triton's
`nv_inference_*` set under our own `netlang_` prefix (with Prometheus' `_total` suffix on counters);
every update happens on the event loop, so no locking is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class Counter:
    name: str
    help: str
    values: dict[Labels, float] = field(default_factory=dict)
    kind = "counter"

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def render(self) -> list[str]:
        return [f"{self.name}{_labels(k)} {_number(v)}" for k, v in sorted(self.values.items())]


@dataclass
class Gauge(Counter):
    kind = "gauge"


@dataclass
class Histogram:
    name: str
    help: str
    buckets: Sequence[float] = LATENCY_BUCKETS
    counts: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=dict)
    kind = "histogram"

    def observe(self, labels: Labels, value: float) -> None:
        counts = self.counts.setdefault(labels, [0] * (len(self.buckets) + 1))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
        counts[-1] += 1
        self.sums[labels] = self.sums.get(labels, 0.0) + value

    def render(self) -> list[str]:
        lines = []
        for labels, counts in sorted(self.counts.items()):
            for bound, count in zip([*self.buckets, math.inf], counts, strict=True):
                lines.append(
                    f"{self.name}_bucket{_labels(labels, (('le', _number(bound)),))} {count}"
                )
            lines.append(f"{self.name}_sum{_labels(labels)} {_number(self.sums[labels])}")
            lines.append(f"{self.name}_count{_labels(labels)} {counts[-1]}")
        return lines


class Metrics:
    """The server's metric families; `render()` is the /metrics body."""

    def __init__(self, max_batch_size: int = 1) -> None:
        batch_buckets = tuple(float(2**i) for i in range(max(1, max_batch_size).bit_length() + 1))
        self.success = Counter(
            "netlang_inference_request_success_total", "Successful inference requests."
        )
        self.failure = Counter(
            "netlang_inference_request_failure_total",
            "Failed inference requests by reason (BAD_REQUEST, REJECTED, BACKEND).",
        )
        self.inferences = Counter(
            "netlang_inference_count_total", "Inferences performed (a batch of n counts n)."
        )
        self.executions = Counter(
            "netlang_inference_exec_count_total", "Model executions (batches run)."
        )
        self.pending = Gauge(
            "netlang_inference_pending_request_count", "Requests admitted and not yet answered."
        )
        self.request_seconds = Histogram(
            "netlang_inference_request_duration_seconds", "End-to-end inference request latency."
        )
        self.queue_seconds = Histogram(
            "netlang_inference_queue_duration_seconds", "Time a request waited before executing."
        )
        self.compute_seconds = Histogram(
            "netlang_inference_compute_duration_seconds", "Time of one model execution."
        )
        self.batch_size = Histogram(
            "netlang_inference_batch_size", "Rows per model execution.", batch_buckets
        )
        self.responses = Counter("netlang_http_responses_total", "HTTP responses by status code.")

    def render(self) -> str:
        lines: list[str] = []
        families: list[Counter | Histogram] = [
            self.success,
            self.failure,
            self.inferences,
            self.executions,
            self.pending,
            self.request_seconds,
            self.queue_seconds,
            self.compute_seconds,
            self.batch_size,
            self.responses,
        ]
        for family in families:
            lines.append(f"# HELP {family.name} {family.help}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            lines.extend(family.render())
        return "\n".join(lines) + "\n"
