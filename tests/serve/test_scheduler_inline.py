"""Where a scheduler runs an execution: on the event loop when the model's measured time per
row says it takes less than a hand-off to a worker thread (`INLINE_S`, or `INLINE_ALONE_S` when
the server's processes fill the cores), else in the pool."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from serve_models import IR_VERSION, OPSET

from netlang.serve.metrics import Metrics
from netlang.serve.scheduler import (
    INLINE_ALONE_S,
    INLINE_S,
    BatchScheduler,
    DirectScheduler,
    time_calls,
)
from netlang.serve.server import ServeConfig, available_cores, load_served_model


def _threads_used(
    scheduler_of, row_s: float | None, rows: int, spare_core: bool = True
) -> set[str]:
    seen: set[str] = set()

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        seen.add(threading.current_thread().name)
        return {"y": feeds["x"] * 2}

    async def main() -> None:
        with ThreadPoolExecutor(1, thread_name_prefix="pool") as pool:
            scheduler = scheduler_of(run, pool)
            if row_s is not None:
                scheduler.calibrate(row_s, spare_core)
            await scheduler.start()
            x = np.ones((rows, 3), np.float32)
            out = await scheduler.submit({"x": x})
            await scheduler.stop()
            np.testing.assert_array_equal(out["y"], x * 2)

    asyncio.run(main())
    return seen


def _direct(run, pool):  # noqa: ANN001, ANN202
    return DirectScheduler(run, pool, 8, Metrics().for_model("m"))


def _batching(run, pool):  # noqa: ANN001, ANN202
    metrics = Metrics(4).for_model("m")
    return BatchScheduler(run, pool, 8, metrics, max_batch_size=4, max_delay_s=0.0)


def test_a_fast_model_runs_on_the_event_loop() -> None:
    loop_thread = threading.current_thread().name  # asyncio.run runs the loop here
    assert _threads_used(_direct, INLINE_S / 10, 1) == {loop_thread}
    assert _threads_used(_batching, INLINE_S / 10, 1) == {loop_thread}


def test_a_slow_or_unmeasured_model_or_a_big_execution_runs_in_the_pool() -> None:
    assert _threads_used(_direct, None, 1) == {"pool_0"}  # never calibrated
    assert _threads_used(_direct, INLINE_S * 2, 1) == {"pool_0"}
    assert _threads_used(_direct, INLINE_S / 10, 20) == {"pool_0"}  # 20 rows: 2x INLINE_S


def test_without_a_spare_core_executions_up_to_a_few_milliseconds_run_on_the_event_loop() -> None:
    loop_thread = threading.current_thread().name
    row_s = INLINE_S / 10  # 20 rows: 2x INLINE_S, well under INLINE_ALONE_S
    assert _threads_used(_direct, row_s, 20, spare_core=False) == {loop_thread}
    assert _threads_used(_batching, row_s, 4, spare_core=False) == {loop_thread}
    assert _threads_used(_direct, INLINE_ALONE_S * 2, 1, spare_core=False) == {"pool_0"}


def test_a_server_with_as_many_processes_as_cores_has_no_core_to_spare(tmp_path: Path) -> None:
    path = _identity(tmp_path / "id.onnx", ["N", 4])
    with ThreadPoolExecutor(1) as pool:
        for workers in (1, available_cores()):
            bound = INLINE_S if workers < available_cores() else INLINE_ALONE_S
            config = ServeConfig(models=[], workers=workers)
            model = load_served_model(str(path), "m", config, pool, Metrics())
            assert model.scheduler.inline_s == bound


def test_time_calls_is_the_median_after_a_first_call() -> None:
    calls = []
    assert time_calls(lambda: calls.append(1)) < 0.01
    assert len(calls) == 6


def _identity(path: Path, dims: list[object]) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "id", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=OPSET, ir_version=IR_VERSION), str(path))
    return path


def test_only_a_model_whose_rows_have_a_fixed_size_is_calibrated(tmp_path: Path) -> None:
    config = ServeConfig(models=[])
    with ThreadPoolExecutor(1) as pool:
        for dims, measured in ((["N", 4], True), (["N", "L"], False)):
            path = _identity(tmp_path / f"{measured}.onnx", dims)
            model = load_served_model(str(path), "m", config, pool, Metrics())
            # zeros of one row say nothing of a row of unknown length
            assert (model.scheduler.row_s < INLINE_S) is measured
