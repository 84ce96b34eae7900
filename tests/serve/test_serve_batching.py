"""Dynamic batching in a real `netlang serve` process: concurrent requests are merged (the
metrics show fewer executions than requests) and every client still gets exactly its own rows;
a full queue answers 503; SIGTERM lets queued requests finish before the process exits."""

from __future__ import annotations

import http.client
import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from tests.serve.serve_models import classifier_reference
from tests.serve.servers import Server, start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batching_server(model_dir: Path) -> Iterator[Server]:
    server = start_server(
        [str(model_dir / "clf.onnx"), "--max-batch-size", "8", "--max-queue-delay-us", "20000"]
    )
    yield server
    server.stop()


def metric(server: Server, name: str) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    match = re.search(rf"^{name}\{{[^}}]*\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_concurrent_requests_are_merged_and_each_gets_its_own_rows(batching_server: Server) -> None:
    client = httpclient.InferenceServerClient(url=batching_server.url, concurrency=16)
    rng = np.random.default_rng(3)
    requests = []
    for i in range(48):
        x = rng.standard_normal((1 + i % 3, 8)).astype(np.float32)  # 1..3 rows each, all distinct
        inp = httpclient.InferInput("input", list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=bool(i % 2))
        out = httpclient.InferRequestedOutput("logits", binary_data=bool(i % 2))
        requests.append((x, client.async_infer("clf", [inp], outputs=[out], request_id=str(i))))
    for i, (x, pending) in enumerate(requests):
        result = pending.get_result(timeout=30)
        assert result.get_response()["id"] == str(i)
        np.testing.assert_allclose(
            result.as_numpy("logits"), classifier_reference(x), rtol=1e-5, atol=1e-5
        )
    client.close()
    executions = metric(batching_server, "netlang_inference_exec_count_total")
    rows = metric(batching_server, "netlang_inference_count_total")
    assert rows == sum(len(x) for x, _ in requests)
    # batches really formed (without batching: one execution per request); how many requests
    # share one depends on how fast the client sends them, so the bound is not tighter
    assert executions <= len(requests) * 3 / 4, executions
    assert metric(batching_server, "netlang_inference_request_success_total") == len(requests)


def test_config_reports_dynamic_batching(batching_server: Server) -> None:
    config = httpclient.InferenceServerClient(url=batching_server.url).get_model_config("clf")
    assert config["max_batch_size"] == 8
    assert config["input"][0]["dims"] == [8]
    assert config["dynamic_batching"] == {"max_queue_delay_microseconds": 20000}


def _post(port: int, x: np.ndarray, results: list[tuple[int, dict]]) -> None:
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": list(x.shape),
                    "datatype": "FP32",
                    "data": x.ravel().tolist(),
                }
            ]
        }
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/v2/models/clf/infer", body=body)
    response = connection.getresponse()
    results.append((response.status, json.loads(response.read())))
    connection.close()


def test_full_queue_gets_503_and_sigterm_drains_queued_requests(model_dir: Path) -> None:
    # rows never reach 64, so queued requests wait out the 1.5 s delay
    server = start_server(
        [
            str(model_dir / "clf.onnx"),
            "--max-batch-size",
            "64",
            "--max-queue-delay-us",
            "1500000",
            "--max-queue-size",
            "2",
        ]
    )
    try:
        xs = [np.full((1, 8), float(i), np.float32) for i in range(2)]
        results: list[tuple[int, dict]] = []
        threads = [threading.Thread(target=_post, args=(server.port, x, results)) for x in xs]
        for t in threads:
            t.start()
        time.sleep(0.5)  # both are queued now
        overflow: list[tuple[int, dict]] = []
        _post(server.port, xs[0], overflow)
        assert overflow[0][0] == 503 and "queue full" in overflow[0][1]["error"]
        server.process.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(timeout=20)
        # uvicorn re-raises the signal once shut down cleanly, so the exit is "killed by SIGTERM"
        assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        server.stop()
    assert sorted(status for status, _ in results) == [200, 200]
    got = sorted(tuple(doc["outputs"][0]["data"]) for _, doc in results)
    want = sorted(tuple(classifier_reference(x).astype(np.float32).ravel().tolist()) for x in xs)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5, atol=1e-5)
