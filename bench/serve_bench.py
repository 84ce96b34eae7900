"""Serving benchmark: ResNet-18 ONNX behind `netlang serve` on loopback -> throughput and p50/p99.

Exports torchvision's resnet18 (random weights; speed does not depend on them) with a symbolic
batch dim, then measures in one run: raw in-process `session.run` (batch 1: the latency limit,
with `netlang predict`'s session options, without spin-waiting (a big model's server options)
and with one intra-op thread (a small model's: `SMALL_CALL_S` in netlang/serve/server.py);
batch 16: the throughput limit) and two real servers (dynamic batching off / on) driven by
batch-1 binary V2 requests from 1 or 16 keep-alive connections (h2load where installed, else
Python threads; `--client`). On a shared machine the background load drifts, so the
configurations are measured in interleaved rounds; rates are the median over rounds (and
pooled), latencies pooled. Bounded: rounds x (8 slices of --seconds) plus export and
start-up, about 2.5 minutes by default.

    python bench/serve_bench.py [--rounds 4] [--seconds 3] [--max-batch-size 16]
                                [--device cpu|cuda|tensorrt] [--size 224] [--client python]
    python bench/serve_bench.py --model lenet --concurrency 32 --max-batch-size 32 [--workers 2]
    python bench/serve_bench.py --model lenet --grpc

`--model lenet` serves examples/lenet.net (compiled by `netlang compile`, 1x32x32 inputs): a
small model, where the HTTP path rather than the model sets the pace. `--grpc` also serves the
gRPC API (`--grpc-port`) from the same two servers and measures it beside HTTP: the same rows in
raw contents (tritonclient.grpc's form), from h2load over HTTP/2 (one call in flight a
connection, as HTTP/1.1 has) or Python threads with grpcio stubs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Slice = tuple[int, list[float], float]  # rows finished in the window, call latencies, window s
WARM_UP_S = 0.5


def export_resnet18(path: Path, size: int) -> None:
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None).eval()
    torch.onnx.export(
        model,
        (torch.randn(1, 3, size, size),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
    )


def compile_lenet(path: Path, size: int) -> None:
    lenet = str(Path(__file__).resolve().parents[1] / "examples" / "lenet.net")
    command = [sys.executable, "-m", "netlang", "compile", lenet, "-o", str(path)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


@dataclass(frozen=True)
class Served:
    """A benchmark model: how to make its ONNX file, its input's name and one row's shape."""

    make: Callable[[Path, int], None]
    input: str
    output: str
    row: Callable[[int], tuple[int, ...]]  # image side -> one row's shape


MODELS = {
    "resnet18": Served(export_resnet18, "input", "logits", lambda size: (3, size, size)),
    "lenet": Served(compile_lenet, "image", "logits", lambda size: (1, 32, 32)),
}


def raw_slice(session: object, served: Served, batch: int, size: int, seconds: float) -> Slice:
    """Back-to-back `session.run` calls for `seconds` (after one warm-up call)."""
    shape = (batch, *served.row(size))
    x = {served.input: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
    session.run(None, x)  # type: ignore[attr-defined]
    latencies, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        session.run(None, x)  # type: ignore[attr-defined]
        latencies.append(time.perf_counter() - t)
    return batch * len(latencies), latencies, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    path: Path, extra: list[str], port: int | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = port or free_port()
    command = [sys.executable, "-c", "from netlang.cli import main; main()", "serve", str(path)]
    command += ["--name", "model", "--port", str(port), *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_ready(process, port, "netlang serve")


def wait_ready(
    process: subprocess.Popen[bytes], port: int, what: str
) -> tuple[subprocess.Popen[bytes], int]:
    """The server once /v2/health/ready answers (killed if it does not within two minutes)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{what} did not become ready")


def binary_request(served: Served, rows: int, size: int) -> tuple[bytes, dict[str, str]]:
    """A request of `rows` rows in tritonclient's default binary form."""
    shape = [rows, *served.row(size)]
    blob = np.random.default_rng(1).standard_normal(shape).astype(np.float32).tobytes()
    tensor = {"name": served.input, "shape": shape, "datatype": "FP32"}
    tensor["parameters"] = {"binary_data_size": len(blob)}
    outputs = [{"name": served.output, "parameters": {"binary_data": True}}]
    header = json.dumps({"inputs": [tensor], "outputs": outputs}).encode()
    return header + blob, {"Inference-Header-Content-Length": str(len(header))}


def server_slice(
    port: int, served: Served, concurrency: int, rows: int, size: int, seconds: float
) -> Slice:
    """`concurrency` keep-alive clients sending back-to-back requests; a warm-up, then `seconds`.
    Throughput counts responses that arrived inside the window; latency, requests sent in it."""
    body, headers = binary_request(served, rows, size)
    samples: list[tuple[float, float]] = []
    errors: list[int] = []
    measure_from = time.perf_counter() + WARM_UP_S
    stop_at = measure_from + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while (start := time.perf_counter()) < stop_at:
            connection.request("POST", "/v2/models/model/infer", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
            samples.append((start, time.perf_counter()))
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"server answered {len(errors)} requests with {set(errors)}")
    rows *= sum(measure_from <= done <= stop_at for _, done in samples)
    return rows, [done - start for start, done in samples if start >= measure_from], seconds


def h2load_slice(
    port: int, served: Served, concurrency: int, rows: int, size: int, seconds: float
) -> Slice:
    """The same requests from nghttp2's `h2load` (HTTP/1.1, one thread, written in C), so that the
    client costs ~20 us of CPU a request instead of the Python clients' ~200: on 2 cores those
    took about half the machine from the server. Its log holds the requests of the measured
    window (after a 1 s warm-up): start, status, microseconds to the whole response."""
    body, headers = binary_request(served, rows, size)
    with tempfile.TemporaryDirectory() as tmp:
        body_file, log = Path(tmp) / "body", Path(tmp) / "log"
        body_file.write_bytes(body)
        command = ["h2load", "--h1", "-c", str(concurrency), "-D", f"{round(seconds * 1000)}ms"]
        command += ["--warm-up-time", "1", "--log-file", str(log), "-d", str(body_file)]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        command.append(f"http://127.0.0.1:{port}/v2/models/model/infer")
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        records = [line.split("\t") for line in log.read_text().splitlines()]
    statuses = {int(status) for _, status, _ in records} - {200}
    if statuses:
        raise RuntimeError(f"server answered requests with {statuses}")
    return rows * len(records), [int(micros) / 1e6 for *_, micros in records], seconds


def grpc_request(served: Served, rows: int, size: int) -> bytes:
    """The same rows as `binary_request`, as a ModelInferRequest with raw contents."""
    from netlang.serve.grpc_v2 import grpc_predict_v2_pb2 as pb

    shape = [rows, *served.row(size)]
    blob = np.random.default_rng(1).standard_normal(shape).astype(np.float32).tobytes()
    request = pb.ModelInferRequest(model_name="model", raw_input_contents=[blob])
    request.inputs.add(name=served.input, datatype="FP32", shape=shape)
    request.outputs.add(name=served.output)
    return request.SerializeToString()


GRPC_INFER = "/inference.GRPCInferenceService/ModelInfer"


def grpc_slice(
    port: int, served: Served, concurrency: int, rows: int, size: int, seconds: float
) -> Slice:
    """`server_slice` for the gRPC API: a channel and a blocking stub call per thread."""
    import grpc

    message = grpc_request(served, rows, size)
    samples: list[tuple[float, float]] = []
    measure_from = time.perf_counter() + WARM_UP_S
    stop_at = measure_from + seconds

    def client() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(GRPC_INFER)  # bytes in, bytes out
            while (start := time.perf_counter()) < stop_at:
                call(message, timeout=60)
                samples.append((start, time.perf_counter()))

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows *= sum(measure_from <= done <= stop_at for _, done in samples)
    return rows, [done - start for start, done in samples if start >= measure_from], seconds


def h2load_grpc_slice(
    port: int, served: Served, concurrency: int, rows: int, size: int, seconds: float
) -> Slice:
    """`h2load_slice` for the gRPC API: h2load speaks HTTP/2, so it posts the gRPC frame (a
    flag byte, the length, the message) with gRPC's headers. gRPC reports failures in trailers,
    which h2load does not read: the caller checks the server's success count instead."""
    message = grpc_request(served, rows, size)
    with tempfile.TemporaryDirectory() as tmp:
        body_file, log = Path(tmp) / "body", Path(tmp) / "log"
        body_file.write_bytes(b"\0" + len(message).to_bytes(4, "big") + message)
        command = ["h2load", "-c", str(concurrency), "-m", "1", "-D", f"{round(seconds * 1000)}ms"]
        command += ["--warm-up-time", "1", "--log-file", str(log), "-d", str(body_file)]
        command += ["-H", "content-type: application/grpc", "-H", "te: trailers"]
        command.append(f"http://127.0.0.1:{port}{GRPC_INFER}")
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        records = [line.split("\t") for line in log.read_text().splitlines()]
    return rows * len(records), [int(micros) / 1e6 for *_, micros in records], seconds


def server_cost(process: subprocess.Popen[bytes], port: int) -> tuple[float, float]:
    """The server's CPU seconds so far, all its threads (Linux /proc; else NaN), and the infer
    requests it has answered (its /metrics), warm-up requests included in both."""
    try:
        cpu = sum(_cpu_seconds(pid) for pid in (process.pid, *_children(process.pid)))
    except OSError:
        cpu = float("nan")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    answered = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("netlang_inference_request_success_total{")
    )
    return cpu, answered


def _cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _children(pid: int) -> list[int]:
    """The worker processes of a `--workers N` server (uvicorn's supervisor is the parent)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN: the parent's CPU alone
        return []


def report(
    label: str, median: float, rows: int, latencies: list[float], seconds: float, cpu: str
) -> str:
    p50, p99 = np.percentile(np.array(latencies) * 1e3, [50, 99])
    return (
        f"| {label} | {median:.1f} | {rows / seconds:.1f} | {p50:.1f} | {p99:.1f} "
        f"| {len(latencies)} | {cpu} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per slice")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="for the raw session and the servers")
    parser.add_argument("--size", type=int, default=224, help="image side of the model")
    parser.add_argument("--model", choices=list(MODELS), default="resnet18")
    parser.add_argument("--concurrency", type=int, default=16, help="clients of the busy slices")
    parser.add_argument("--request-rows", type=int, default=1, help="rows in each request")
    parser.add_argument("--workers", type=int, default=1, help="server processes (`--workers`)")
    parser.add_argument("--grpc", action="store_true", help="measure the gRPC API beside HTTP")
    parser.add_argument(
        "--client",
        choices=["h2load", "python"],
        default="h2load" if shutil.which("h2load") else "python",
        help="load generator: nghttp2's h2load (default where installed) or Python threads",
    )
    args = parser.parse_args()
    client_slice = h2load_slice if args.client == "h2load" else server_slice
    grpc_client_slice = h2load_grpc_slice if args.client == "h2load" else grpc_slice
    import onnxruntime as ort

    from netlang.runtime.session import make_session

    begun, load_before = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        model, served = Path(tmp) / f"{args.model}.onnx", MODELS[args.model]
        served.make(model, args.size)
        session = make_session(model, args.device)  # `netlang predict`'s options
        as_served = make_session(model, args.device, spinning=False)  # no spin-waiting
        # a lone caller's best: one intra-op thread (a small model's ops are too short to split)
        single = make_session(model, args.device, intra_op_threads=1)
        device = ["--device", args.device, "--workers", str(args.workers)]
        grpc_ports = (free_port(), free_port()) if args.grpc else (0, 0)
        grpc_off = ["--grpc-port", str(grpc_ports[0])] if args.grpc else []
        grpc_on = ["--grpc-port", str(grpc_ports[1])] if args.grpc else []
        off, off_port = start_server(model, [*device, *grpc_off])
        batching = ["--max-batch-size", str(args.max_batch_size)]
        on, on_port = start_server(model, [*device, *batching, *grpc_on])
        s, b, z, c, r = (
            args.seconds,
            args.max_batch_size,
            args.size,
            args.concurrency,
            args.request_rows,
        )
        slices: dict[str, Callable[[], Slice]] = {
            f"raw session.run, batch {r}": lambda: raw_slice(session, served, r, z, s),
            f"raw session.run, batch {r}, no spin-waiting": lambda: raw_slice(
                as_served, served, r, z, s
            ),
            f"raw session.run, batch {r}, 1 intra-op thread": lambda: raw_slice(
                single, served, r, z, s
            ),
            f"raw session.run, batch {b}": lambda: raw_slice(session, served, b, z, s),
        }
        cpu: dict[str, list[float]] = {}  # server CPU us per request, each round

        def costed(
            label: str,
            process: subprocess.Popen[bytes],
            port: int,
            clients: int,
            grpc_port: int = 0,
        ) -> None:
            def measure() -> Slice:
                cpu_before, answered_before = server_cost(process, port)
                if grpc_port:
                    result = grpc_client_slice(grpc_port, served, clients, r, z, s)
                else:
                    result = client_slice(port, served, clients, r, z, s)
                cpu_after, answered_after = server_cost(process, port)
                if answered_after - answered_before < result[0] / r:  # (gRPC: see h2load's)
                    raise RuntimeError(f"{label}: the server answered fewer calls than were sent")
                per_request = (cpu_after - cpu_before) / max(1.0, answered_after - answered_before)
                cpu.setdefault(label, []).append(per_request * 1e6)
                return result

            slices[label] = measure

        costed("serve, batching off, concurrency 1", off, off_port, 1)
        costed(f"serve, batching off, concurrency {c}", off, off_port, c)
        costed(f"serve, batching on (max {b}), concurrency 1", on, on_port, 1)
        costed(f"serve, batching on (max {b}), concurrency {c}", on, on_port, c)
        if args.grpc:
            costed("serve gRPC, batching off, concurrency 1", off, off_port, 1, grpc_ports[0])
            costed(f"serve gRPC, batching off, concurrency {c}", off, off_port, c, grpc_ports[0])
            on_label = f"serve gRPC, batching on (max {b}), concurrency {c}"
            costed(on_label, on, on_port, c, grpc_ports[1])
        pooled: dict[str, Slice] = {label: (0, [], 0.0) for label in slices}
        rates: dict[str, list[float]] = {label: [] for label in slices}  # rows/s of each round
        try:
            for _ in range(args.rounds):
                for label, measure in slices.items():
                    rows, latencies, seconds = measure()
                    total = pooled[label]
                    pooled[label] = (total[0] + rows, total[1] + latencies, total[2] + seconds)
                    rates[label].append(rows / seconds)
        finally:
            for process in (off, on):
                process.terminate()
                process.wait(timeout=30)
    load = os.getloadavg()[0]
    print(
        f"{os.cpu_count()} CPUs, load average {load_before:.2f} before, {load:.2f} at the end, "
        f"onnxruntime {ort.__version__}, device {args.device} ({session.get_providers()[0]}), "
        f"{args.size}x{args.size} images, client {args.client},"
    )
    print(f"{args.rounds} interleaved rounds x {args.seconds:g} s per configuration, ", end="")
    print(f"{time.perf_counter() - begun:.0f} s in all\n")
    print(
        "| configuration | rows/s (median of rounds) | pooled rows/s | p50 ms | p99 ms | calls "
        "| server CPU us/request (median) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    # a round in which another job took the core shows in the pooled rate, not in the median
    rate = {label: float(np.median(values)) for label, values in rates.items()}
    for label, (rows, latencies, seconds) in pooled.items():
        cost = f"{np.median(cpu[label]):.0f}" if label in cpu else ""
        print(report(label, rate[label], rows, latencies, seconds, cost))
    raw = f"raw session.run, batch {args.request_rows}"
    print(f"\n{args.request_rows}-row requests, serve at concurrency {args.concurrency} / raw:")
    for mode in ("off", f"on (max {args.max_batch_size})"):
        served_rate = rate[f"serve, batching {mode}, concurrency {args.concurrency}"]
        ratios = [
            served_rate / rate[raw + variant]
            for variant in ("", ", no spin-waiting", ", 1 intra-op thread")
        ]
        print(
            f"- batching {mode}: {ratios[0]:.2f} of the default session, {ratios[1]:.2f} of the "
            f"non-spinning session, {ratios[2]:.2f} of one intra-op thread"
        )
    if args.grpc:
        c, b = args.concurrency, args.max_batch_size
        print(f"\ngRPC / HTTP at concurrency {c}: rows/s (server CPU per request):")
        for mode in ("off", f"on (max {b})"):
            http, grpc = (f"serve{api}, batching {mode}, concurrency {c}" for api in ("", " gRPC"))
            cost = np.median(cpu[grpc]) / np.median(cpu[http])
            print(f"- batching {mode}: {rate[grpc] / rate[http]:.2f} ({cost:.2f})")


if __name__ == "__main__":
    main()
