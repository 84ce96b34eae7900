"""`netlang serve --workers 2`: /metrics reports the whole server, whichever worker answers it.

Which worker holds a connection is read from /proc (the worker whose file descriptors include
the server side of that TCP connection), so the tests know that both workers answered requests
and scrapes. A worker killed with requests pending leaves no stale gauge behind, while what it
counted stays counted; the metrics directory is private and goes with the server.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.serve.servers import Samples, Server, scrape, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc"),
]
# `fixed` (dim 0 fixed at 2) runs unbatched; `clf` batches and holds a lone request 4 s
ARGS = ["--workers", "2", "--max-batch-size", "8", "--max-queue-delay-us", "4000000"]
FIXED = json.dumps(
    {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1.0, -2.0] * 3}]}
)
CLF = json.dumps(
    {"inputs": [{"name": "input", "shape": [1, 8], "datatype": "FP32", "data": [0.5] * 8}]}
)
FIXED_LABELS = frozenset({"model": "fixed", "version": "1"}.items())
CLF_LABELS = frozenset({"model": "clf", "version": "1"}.items())


def worker_pids(server: Server) -> set[int]:
    """The server's worker processes: its children started by multiprocessing's spawn."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if parent == server.process.pid and b"spawn_main" in command:
            pids.add(int(entry.name))
    return pids


def owner(connection: http.client.HTTPConnection, port: int, workers: set[int]) -> int:
    """The worker holding the server side of an open loopback connection."""
    assert connection.sock is not None
    client_port = connection.sock.getsockname()[1]
    inode = next(
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())
        and int(fields[1].split(":")[1], 16) == port
        and int(fields[2].split(":")[1], 16) == client_port
    )
    for pid in workers:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def call(connection: http.client.HTTPConnection, method: str, path: str, body: str = "") -> int:
    connection.request(method, path, body.encode() if body else None)
    response = connection.getresponse()
    response.read()
    return response.status


def scrape_on(connection: http.client.HTTPConnection) -> Samples:
    """/metrics over this connection, so that a known worker answers."""
    from prometheus_client.parser import text_string_to_metric_families

    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def on_both_workers(server: Server) -> tuple[dict[int, http.client.HTTPConnection], int]:
    """One keep-alive connection to each worker, and the `fixed` infers it took to find them:
    each new connection answers one; a worker still loading takes none, so keep trying."""
    held: dict[int, http.client.HTTPConnection] = {}
    infers = 0
    deadline = time.monotonic() + 60
    while len(held) < 2 and time.monotonic() < deadline:
        for kept in held.values():  # within uvicorn's 5 s keep-alive
            assert call(kept, "GET", "/v2/health/live") == 200
        workers = worker_pids(server)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        assert call(connection, "POST", "/v2/models/fixed/infer", FIXED) == 200
        infers += 1
        pid = owner(connection, server.port, workers)
        if pid in held:
            connection.close()
        else:
            held[pid] = connection
    assert len(held) == 2, "the second worker never took a connection"
    return held, infers


def value(samples: Samples, name: str, labels: frozenset[tuple[str, str]]) -> float:
    return samples.get((name, labels), 0.0)


def test_every_scrape_counts_both_workers_requests(
    serve: Callable[[list[str]], Server], model_dir: Path
) -> None:
    server = serve([str(model_dir / "fixed.onnx"), str(model_dir / "clf.onnx"), *ARGS])
    held, infers = on_both_workers(server)
    connections = list(held.values())
    for i in range(20):  # alternating workers
        assert call(connections[i % 2], "POST", "/v2/models/fixed/infer", FIXED) == 200
    for connection in connections:  # one refusal each
        assert call(connection, "POST", "/v2/models/fixed/infer", "{") == 400
    k = infers + 20
    scrapes = [scrape_on(c) for c in connections * 2] + [scrape(server.port) for _ in range(4)]
    for samples in scrapes:
        assert value(samples, "netlang_inference_request_success_total", FIXED_LABELS) == k
        failed = FIXED_LABELS | {("reason", "BAD_REQUEST")}
        assert value(samples, "netlang_inference_request_failure_total", failed) == 2
        assert value(samples, "netlang_inference_exec_count_total", FIXED_LABELS) == k
        assert value(samples, "netlang_inference_count_total", FIXED_LABELS) == 2 * k  # 2 rows
        assert value(samples, "netlang_inference_pending_request_count", FIXED_LABELS) == 0
        for histogram in ("request", "queue", "compute"):
            name = f"netlang_inference_{histogram}_duration_seconds"
            assert value(samples, f"{name}_count", FIXED_LABELS) == k
            buckets = sorted(
                (float(dict(labels)["le"]), v)
                for (sample, labels), v in samples.items()
                if sample == f"{name}_bucket" and FIXED_LABELS <= labels
            )
            counts = [v for _, v in buckets]
            assert counts == sorted(counts) and buckets[-1] == (float("inf"), k)
        assert value(samples, "netlang_inference_batch_size_count", FIXED_LABELS) == k
        assert value(samples, "netlang_http_responses_total", frozenset({("code", "400")})) == 2
        assert value(samples, "netlang_http_responses_total", frozenset({("code", "200")})) >= k
    for connection in connections:
        connection.close()


def metrics_dir(pid: int) -> Path:
    """PROMETHEUS_MULTIPROC_DIR as a process sees it."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    found = [v.split(b"=", 1)[1] for v in environ if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    assert len(found) == 1, "no PROMETHEUS_MULTIPROC_DIR"
    return Path(found[0].decode())


def test_the_metrics_directory_is_private_and_removed_with_the_server(
    serve: Callable[[list[str]], Server], model_dir: Path
) -> None:
    server = serve([str(model_dir / "fixed.onnx"), *ARGS])
    directory = {metrics_dir(pid) for pid in worker_pids(server)}
    assert len(directory) == 1
    shared = directory.pop()
    assert shared.is_dir() and (shared.stat().st_mode & 0o077) == 0
    assert list(shared.glob("*.db"))
    server.stop()
    assert not shared.exists()


def test_one_worker_keeps_its_metrics_in_memory(model_dir: Path) -> None:
    server = start_server([str(model_dir / "fixed.onnx")])
    try:
        environ = Path(f"/proc/{server.process.pid}/environ").read_bytes()
        assert b"PROMETHEUS_MULTIPROC_DIR=" not in environ
        assert worker_pids(server) == set()
    finally:
        server.stop()


def test_a_killed_worker_leaves_no_stale_gauge_and_keeps_its_counts(
    serve: Callable[[list[str]], Server], model_dir: Path
) -> None:
    server = serve([str(model_dir / "fixed.onnx"), str(model_dir / "clf.onnx"), *ARGS])
    held, infers = on_both_workers(server)
    (victim, doomed), (_, survivor) = held.items()
    answered: list[BaseException] = []

    def wait_in_the_batch_queue() -> None:  # clf holds a lone request 4 s for more rows
        try:
            call(doomed, "POST", "/v2/models/clf/infer", CLF)
        except (OSError, http.client.HTTPException) as e:
            answered.append(e)

    waiting = threading.Thread(target=wait_in_the_batch_queue)
    waiting.start()
    deadline = time.monotonic() + 3
    while value(scrape_on(survivor), "netlang_inference_pending_request_count", CLF_LABELS) < 1:
        assert time.monotonic() < deadline, "the request never showed as pending"
        time.sleep(0.05)
    os.kill(victim, signal.SIGKILL)
    waiting.join(timeout=10)
    assert answered, "the killed worker's request was answered"
    deadline = time.monotonic() + 60  # uvicorn starts a replacement
    while len(worker_pids(server) - {victim}) < 2:
        assert time.monotonic() < deadline, "no replacement worker"
        time.sleep(0.1)
    deadline = time.monotonic() + 5  # the parent marks the victim dead as it replaces it
    while value(scrape(server.port), "netlang_inference_pending_request_count", CLF_LABELS) > 0:
        assert time.monotonic() < deadline, "the killed worker's pending request still counts"
        time.sleep(0.05)
    for samples in [scrape(server.port) for _ in range(4)]:  # the survivor's may have idled out
        assert value(samples, "netlang_inference_pending_request_count", CLF_LABELS) == 0
        assert value(samples, "netlang_inference_request_success_total", FIXED_LABELS) == infers
    survivor.close()
