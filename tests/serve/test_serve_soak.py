"""A bounded soak: 32 clients for SOAK_SECONDS (default 60) send a mix of valid and malformed
requests to one `netlang serve` process, whose RSS is sampled every second. Every answer must be
the one its kind expects, every client must get one (but a raw client whose first byte was late:
see LATE), and the RSS at the end must be within 10% of the RSS at the start (taken after a
warm-up, once the allocator has its working set). Figures go to bench/README.md."""

from __future__ import annotations

import errno
import http.client
import inspect
import json
import os
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from tests.serve.servers import Server, start_server

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
WARM_UP_S = 5.0
CLIENTS = 32
INFER = "/v2/models/clf/infer"
ROW = np.linspace(-1, 1, 8).tolist()


def _json_infer(rows: int) -> bytes:
    data = (ROW * rows)[: rows * 8]
    inputs = [{"name": "input", "shape": [rows, 8], "datatype": "FP32", "data": data}]
    return json.dumps({"inputs": inputs}).encode()


def _binary_infer() -> tuple[bytes, dict[str, str]]:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [4, 8],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": 128},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    blob = np.tile(np.array(ROW, "<f4"), 4).tobytes()
    return header + blob, {"Inference-Header-Content-Length": str(len(header))}


BINARY_BODY, BINARY_HEADERS = _binary_infer()
# kind -> (method, path, body, headers, expected status); valid kinds come more often
KINDS: dict[str, tuple[str, str, bytes, dict[str, str], int]] = {
    "json infer 1 row": ("POST", INFER, _json_infer(1), {}, 200),
    "json infer 64 rows": ("POST", INFER, _json_infer(64), {}, 200),
    "json infer 600 rows": ("POST", INFER, _json_infer(600), {}, 200),  # the piecewise path
    "binary infer": ("POST", INFER, BINARY_BODY, BINARY_HEADERS, 200),
    "metadata": ("GET", "/v2/models/clf", b"", {}, 200),
    "malformed json": ("POST", INFER, b'{"inputs": [', {}, 400),
    "NaN input": ("POST", INFER, _json_infer(1).replace(b"-1.0", b"NaN", 1), {}, 400),
    "wrong shape": ("POST", INFER, _json_infer(1).replace(b"[1, 8]", b"[2, 8]"), {}, 400),
    "unknown model": ("POST", "/v2/models/nope/infer", _json_infer(1), {}, 404),
    "too many headers": ("GET", "/v2", b"", {f"x-h{i}": "v" for i in range(150)}, 431),
}
WEIGHTS = {"json infer 1 row": 6, "json infer 64 rows": 3, "binary infer": 3, "metadata": 1}
RAW_KINDS = {"broken framing": 400, "half a header": 408}
HEADER_TIMEOUT_S = 1.0
# serve keeps uvicorn's idle keep-alive timeout
KEEP_ALIVE_S = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
# A raw client whose first byte leaves more than HEADER_TIMEOUT_S after it began to connect may
# find that the server has closed the connection as a silent one: the one case where no answer
# is correct. Its failure is marked with this prefix.
LATE = "late first byte"


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[Server]:
    server = start_server(
        [str(model_dir / "clf.onnx"), "--header-timeout", f"{HEADER_TIMEOUT_S:g}"]
    )
    yield server
    server.stop()


def _raw(port: int, kind: str) -> tuple[int, str]:
    """One request on its own connection: (status, "") or (-1, how it failed)."""
    started = time.perf_counter()
    stage = "connect"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            late = time.perf_counter() - started >= HEADER_TIMEOUT_S
            stage = f"{LATE}, send" if late else "send"
            if kind == "broken framing":
                sock.sendall(b"GARBAGE / HTTP/1.1\r\n\r\n")
            else:
                sock.sendall(b"POST /v2/models/clf/infer HTTP/1.1\r\nHost: 127.0")
            stage = f"{LATE}, read" if late else "read"
            response = http.client.HTTPResponse(sock)
            response.begin()
            response.read()
            return response.status, ""
    except (http.client.HTTPException, OSError) as error:
        return -1, f"{stage}: {_failure(error)}"


def _failure(error: Exception) -> str:
    code = errno.errorcode.get(getattr(error, "errno", None) or 0, "")
    return f"{type(error).__name__} {code}".strip()


def _client(
    port: int, stop: Callable[[], bool], seed: int, record: Callable[[str, int, str, float], None]
) -> None:
    rng = np.random.default_rng(seed)
    names = [*KINDS, *RAW_KINDS]
    weights = np.array([WEIGHTS.get(n, 1) for n in names], float)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    previous = -KEEP_ALIVE_S  # when the last request on `connection` began
    while not stop():
        kind = names[rng.choice(len(names), p=weights / weights.sum())]
        started = time.perf_counter()
        if kind in RAW_KINDS:
            connection.close()  # not left idle past the keep-alive timeout meanwhile
            status, failure = _raw(port, kind)
        else:
            failure = ""
            method, path, body, headers, _ = KINDS[kind]
            if started - previous >= KEEP_ALIVE_S:  # the server may have closed it as idle
                connection.close()
            previous = started
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("connection") == "close":
                    connection.close()
            except (http.client.HTTPException, OSError) as error:
                connection.close()
                status, failure = -1, _failure(error)
        record(kind, status, failure, time.perf_counter() - started)
    connection.close()


def test_a_minute_of_mixed_load_answers_every_request_as_expected_and_keeps_its_rss(
    server: Server,
) -> None:
    pid = server.process.pid
    results: list[tuple[str, int, str, float]] = []
    lock = threading.Lock()

    def record(kind: str, status: int, failure: str, seconds: float) -> None:
        with lock:
            results.append((kind, status, failure, seconds))

    deadline = time.monotonic() + WARM_UP_S + SECONDS
    threads = [
        threading.Thread(
            target=_client, args=(server.port, lambda: time.monotonic() > deadline, i, record)
        )
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(WARM_UP_S)
    rss = [_rss_mb(pid)]
    while time.monotonic() < deadline:
        time.sleep(1)
        rss.append(_rss_mb(pid))
    for thread in threads:
        thread.join(timeout=60)

    expected = {k: v[-1] for k, v in KINDS.items()} | RAW_KINDS
    by_kind = Counter(kind for kind, _, _, _ in results)
    wrong = Counter((k, status, f) for k, status, f, _ in results if status != expected[k])
    late = {key: n for key, n in wrong.items() if key[2].startswith(LATE)}
    latencies = sorted(s for kind, _, _, s in results if kind not in RAW_KINDS)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
    report = {
        "seconds": WARM_UP_S + SECONDS,
        "clients": CLIENTS,
        "requests": len(results),
        "by_kind": dict(sorted(by_kind.items())),
        "unexpected": {f"{k} -> {s} {f}".strip(): n for (k, s, f), n in wrong.items()},
        "of_those_closed_before_a_late_first_byte": sum(late.values()),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "rss_start_mb": round(rss[0], 1),
        "rss_end_mb": round(rss[-1], 1),
        "rss_max_mb": round(max(rss), 1),
    }
    print(json.dumps(report, indent=1))
    # Every client gets its expected answer, but a raw one that sent its first byte too late
    assert wrong.keys() == late.keys(), report
    assert all(by_kind[kind] > 0 for kind in expected), report
    assert abs(rss[-1] - rss[0]) <= 0.10 * rss[0], report
    assert server.process.poll() is None
