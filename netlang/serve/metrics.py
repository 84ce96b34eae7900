"""Prometheus metrics for /metrics, kept by prometheus_client.

Names follow Triton's `nv_inference_*` set under our own `netlang_` prefix (counters carry
Prometheus' `_total` suffix). With one server process the values live in this process's
registry. With `--workers N` the parent process points PROMETHEUS_MULTIPROC_DIR at a private
directory before it starts the workers (`workers.py`), which turns on prometheus_client's
multiprocess mode: every worker writes its values to memory-mapped files there, and /metrics,
whichever worker answers it, adds up all of them, so the counts are the server's, not one
worker's. Pending requests are a "livesum" gauge: the parent drops a worker's share when the
worker exits, while counters and histograms keep what exited workers counted. `_created` series
are off in both modes (the multiprocess collector has none).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's switch to multiprocess mode
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MODEL_LABELS = ("model", "version")


@dataclass(frozen=True)
class ModelMetrics:
    """One model's series, bound to its labels once so that a request does no label lookups."""

    labels: tuple[str, str]  # model name, version
    success: Counter
    failure: Counter  # the family; `failed` adds the reason label
    inferences: Counter
    executions: Counter
    pending: Gauge
    request_seconds: Histogram
    queue_seconds: Histogram
    compute_seconds: Histogram
    batch_size: Histogram

    def failed(self, reason: str) -> None:
        self.failure.labels(*self.labels, reason).inc()


class Metrics:
    """The server's metric families; `render()` is the /metrics body."""

    def __init__(self, max_batch_size: int = 1) -> None:
        disable_created_metrics()
        batch_buckets = tuple(float(2**i) for i in range(max(1, max_batch_size).bit_length() + 1))
        self.registry = registry = CollectorRegistry()
        self.success = Counter(
            "netlang_inference_request_success",
            "Successful inference requests.",
            MODEL_LABELS,
            registry=registry,
        )
        self.failure = Counter(
            "netlang_inference_request_failure",
            "Failed inference requests by reason (BAD_REQUEST, REJECTED, BACKEND).",
            (*MODEL_LABELS, "reason"),
            registry=registry,
        )
        self.inferences = Counter(
            "netlang_inference_count",
            "Inferences performed (a batch of n counts n).",
            MODEL_LABELS,
            registry=registry,
        )
        self.executions = Counter(
            "netlang_inference_exec_count",
            "Model executions (batches run).",
            MODEL_LABELS,
            registry=registry,
        )
        self.pending = Gauge(
            "netlang_inference_pending_request_count",
            "Requests admitted and not yet answered.",
            MODEL_LABELS,
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.request_seconds = self._latency(
            "netlang_inference_request_duration_seconds", "End-to-end inference request latency."
        )
        self.queue_seconds = self._latency(
            "netlang_inference_queue_duration_seconds", "Time a request waited before executing."
        )
        self.compute_seconds = self._latency(
            "netlang_inference_compute_duration_seconds", "Time of one model execution."
        )
        self.batch_size = Histogram(
            "netlang_inference_batch_size",
            "Rows per model execution.",
            MODEL_LABELS,
            registry=registry,
            buckets=batch_buckets,
        )
        self.responses = Counter(
            "netlang_http_responses", "HTTP responses by status code.", ("code",), registry=registry
        )
        self._by_status: dict[int, Counter] = {}  # `responses` per status, bound once
        self._exposed = registry
        if os.environ.get(MULTIPROC_DIR_ENV):  # the rule prometheus_client itself follows
            self._exposed = CollectorRegistry()
            MultiProcessCollector(self._exposed)

    def _latency(self, name: str, documentation: str) -> Histogram:
        return Histogram(
            name, documentation, MODEL_LABELS, registry=self.registry, buckets=LATENCY_BUCKETS
        )

    def for_model(self, name: str, version: str = "1") -> ModelMetrics:
        labels = (name, version)
        return ModelMetrics(
            labels,
            self.success.labels(*labels),
            self.failure,
            self.inferences.labels(*labels),
            self.executions.labels(*labels),
            self.pending.labels(*labels),
            self.request_seconds.labels(*labels),
            self.queue_seconds.labels(*labels),
            self.compute_seconds.labels(*labels),
            self.batch_size.labels(*labels),
        )

    def response(self, status: int) -> Counter:
        """The counter of responses with `status` (a label lookup takes a lock and a hash of the
        label values: once per status, not once per response)."""
        counter = self._by_status.get(status)
        if counter is None:
            counter = self._by_status[status] = self.responses.labels(str(status))
        return counter

    def render(self) -> bytes:
        """The text exposition of every family: this process's, or all workers' added up."""
        return generate_latest(self._exposed)
