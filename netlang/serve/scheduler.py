"""Scheduling: validated request inputs -> model outputs for exactly those rows.

Both schedulers offer the same `submit(inputs) -> outputs`, so handlers never know whether
batching is on. `DirectScheduler` runs each request on its own in a thread pool.
`BatchScheduler` (opt-in dynamic batching) queues requests, merges those with equal non-batch
shapes along dim 0 up to `max_batch_size` rows (a larger request runs alone, never split), runs
the merged batch once and hands each request back its own slice. With a zero delay it merges only
what queued up while the previous batch ran (Triton's default); a positive delay waits up to that
long after the oldest request for more rows. Both bound the number of waiting requests (503).

A small execution is run on the event loop itself: for LeNet a one-row call takes ~40 us, and
handing it to a worker thread and back (a thread wake-up, the GIL passed twice, the loop woken
through its self-pipe) cost the loop more than the call. `calibrate` gives the scheduler the
model's measured time per row (the warm-up's median); an execution expected to take under
`INLINE_S` runs inline, any other in the pool, beside the loop. When the server's processes
already fill the machine's cores (`--workers` >= cores), a thread beside the loop has no core of
its own: the hand-off then buys no parallelism and only costs, so executions up to
`INLINE_ALONE_S` (a few milliseconds: health probes still answer in time) run inline too.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from netlang.serve.metrics import ModelMetrics
from netlang.serve.protocol import ServeError

log = logging.getLogger("netlang.serve")
Arrays = dict[str, np.ndarray]
RunFn = Callable[[Arrays], Arrays]  # the model: feeds -> all outputs by name
SLOW_FIRST_CALL_S = 0.05  # a model whose first call is slower is timed once, not 6 times
# executions expected to take less run on the event loop: about what handing one to a worker
# thread and back costs the loop (more would hold the loop up longer than the hand-off saves it:
# a batch of 17 LeNet rows, ~450 us, runs faster beside the loop than on it)
INLINE_S = 0.0002
INLINE_ALONE_S = 0.002  # the bound when no core is left for the pool (32 LeNet rows: ~1 ms)


def rows_of(inputs: Arrays) -> int:
    """Dim 0 of the first input: the rows a request contributes to a batch (1 for a scalar)."""
    first = next(iter(inputs.values()))
    return int(first.shape[0]) if first.ndim else 1


def time_calls(call: Callable[[], object], calls: int = 5) -> float:
    """The median seconds of `calls` calls, after a first one (sessions allocate on it); a
    model whose first call is slow is not timed further (it will never run inline)."""
    started = time.perf_counter()
    call()
    if time.perf_counter() - started > SLOW_FIRST_CALL_S:
        return time.perf_counter() - started
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return sorted(times)[calls // 2]


def _timed(run: RunFn, feeds: Arrays) -> tuple[Arrays, float, float]:
    started = time.perf_counter()
    outputs = run(feeds)
    return outputs, started, time.perf_counter()


class _Scheduler(ABC):
    def __init__(
        self, run: RunFn, executor: Executor, max_queue: int, metrics: ModelMetrics
    ) -> None:
        self._run = run
        self._executor = executor
        self._max_queue = max_queue
        self._metrics = metrics
        self.held = 0  # requests admitted and not yet answered
        self.row_s = math.inf  # measured seconds per row (`calibrate`); unknown: never inline
        self.inline_s = INLINE_S  # executions expected to take less run on the event loop

    def calibrate(self, call_s: float, spare_core: bool = True) -> None:
        """The model's time for a one-row execution, measured, and whether a core is left for
        the pool beside the loop: together they decide which executions run inline."""
        self.row_s = call_s
        self.inline_s = INLINE_S if spare_core else INLINE_ALONE_S

    async def submit(self, inputs: Arrays) -> Arrays:
        """The model's outputs for exactly these inputs' rows; 503 when too many are held."""
        if self.held >= self._max_queue:
            raise ServeError(503, f"queue full ({self._max_queue} requests held); retry later")
        self.held += 1
        self._metrics.pending.inc()
        try:
            return await self._submit(inputs)
        finally:
            self.held -= 1
            self._metrics.pending.dec()

    @abstractmethod
    async def _submit(self, inputs: Arrays) -> Arrays:
        """Schedule one admitted request."""

    async def _execute(self, feeds: Arrays, rows: int) -> tuple[Arrays, float]:
        """Run off the event loop; record the execution; return outputs and its start time."""
        try:
            if rows * self.row_s < self.inline_s:
                outputs, started, finished = _timed(self._run, feeds)
            else:
                outputs, started, finished = await asyncio.get_running_loop().run_in_executor(
                    self._executor, _timed, self._run, feeds
                )
        except Exception:
            log.exception("model execution failed")
            raise ServeError(500, "model execution failed; see the server log") from None
        m = self._metrics
        m.executions.inc()
        m.inferences.inc(rows)
        m.batch_size.observe(rows)
        m.compute_seconds.observe(finished - started)
        return outputs, started

    async def start(self) -> None:
        """Begin background work, if any (called once the event loop runs)."""

    async def stop(self) -> None:
        """End background work; called after the server stopped taking requests."""


class DirectScheduler(_Scheduler):
    """One execution per request, concurrently in the executor's threads."""

    async def _submit(self, inputs: Arrays) -> Arrays:
        arrived = time.perf_counter()
        outputs, started = await self._execute(inputs, rows_of(inputs))
        self._metrics.queue_seconds.observe(max(0.0, started - arrived))
        return outputs


@dataclass(eq=False)
class _Pending:
    inputs: Arrays
    rows: int
    key: tuple[object, ...]  # requests merge only when their keys are equal
    future: asyncio.Future[Arrays]
    arrived: float = field(default_factory=time.perf_counter)


class BatchScheduler(_Scheduler):
    """Dynamic batching along dim 0; one merged execution at a time."""

    def __init__(
        self,
        run: RunFn,
        executor: Executor,
        max_queue: int,
        metrics: ModelMetrics,
        *,
        max_batch_size: int,
        max_delay_s: float,
    ) -> None:
        super().__init__(run, executor, max_queue, metrics)
        self.max_batch_size = max_batch_size
        self._max_delay_s = max_delay_s
        self._queue: deque[_Pending] = deque()
        self._arrival = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="netlang-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while self._queue:
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(ServeError(503, "server is shutting down"))

    async def _submit(self, inputs: Arrays) -> Arrays:
        key = tuple((n, a.dtype.str, a.shape[1:]) for n, a in sorted(inputs.items()))
        future: asyncio.Future[Arrays] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(inputs, rows_of(inputs), key, future))
        self._arrival.set()
        return await future

    async def _loop(self) -> None:
        while True:
            await self._arrival.wait()
            self._arrival.clear()
            while self._queue:
                await self._wait_for_rows()
                batch = self._take()
                await self._run_batch(batch)

    async def _wait_for_rows(self) -> None:
        """With a delay configured, wait for a full batch or the oldest request's deadline."""
        deadline = self._queue[0].arrived + self._max_delay_s
        while self._mergeable_rows() < self.max_batch_size:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._arrival.clear()
            try:
                await asyncio.wait_for(self._arrival.wait(), remaining)
            except TimeoutError:
                return

    def _mergeable_rows(self) -> int:
        key = self._queue[0].key
        return sum(p.rows for p in self._queue if p.key == key)

    def _take(self) -> list[_Pending]:
        """The oldest request plus, in arrival order, every compatible one that still fits."""
        first = self._queue.popleft()
        batch, rows, rest = [first], first.rows, deque[_Pending]()
        while self._queue:
            pending = self._queue.popleft()
            if pending.key == first.key and rows + pending.rows <= self.max_batch_size:
                batch.append(pending)
                rows += pending.rows
            else:
                rest.append(pending)
        self._queue = rest
        return batch

    async def _run_batch(self, batch: list[_Pending]) -> None:
        rows = sum(p.rows for p in batch)
        feeds = {
            name: np.concatenate([p.inputs[name] for p in batch]) if len(batch) > 1 else array
            for name, array in batch[0].inputs.items()
        }
        try:
            outputs, started = await self._execute(feeds, rows)
            parts = _split(outputs, [p.rows for p in batch])
        except ServeError as e:
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(e)
            return
        for p, part in zip(batch, parts, strict=True):
            self._metrics.queue_seconds.observe(max(0.0, started - p.arrived))
            if not p.future.done():
                p.future.set_result(part)


def _split(outputs: Arrays, sizes: list[int]) -> list[Arrays]:
    """Cut every output along dim 0 into consecutive slices of `sizes` rows."""
    total = sum(sizes)
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != total:
            log.error("output %s has shape %s for a batch of %d rows", name, array.shape, total)
            raise ServeError(500, "the model's outputs do not follow the batch dimension")
    bounds = np.cumsum([0, *sizes])
    return [
        {name: array[lo:hi] for name, array in outputs.items()}
        for lo, hi in itertools.pairwise(bounds)
    ]
