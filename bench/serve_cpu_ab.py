"""Server CPU per request, revision against revision: LeNet behind `netlang serve` for each git
revision given, each driven in turn (interleaved rounds) by the same fixed number of 1-row binary
requests from h2load; per round the server's CPU time (all its processes and threads, utime and
stime from /proc) over the requests, and h2load's own (it shares the cores). On a shared host
CPU time per request moves far less than rows/s with the background load, and each round runs
every revision once, so a difference that holds round after round is the code's.

    python bench/serve_cpu_ab.py main HEAD [--requests 15000] [--rounds 6] [-- --workers 2 ...]

Everything after `--` goes to `netlang serve` (default: `--max-batch-size 32`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from serve_bench import _children, compile_lenet, free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
TREES = ["netlang", "grammar", "stdlib"]  # what a server needs from a revision


def checkout(revision: str, into: Path) -> None:
    """The revision's package files under `into` (no work tree touched)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, *TREES], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def start(code: Path, model: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, "-m", "netlang", "serve", str(model), "--name", "model"]
    command += ["--port", str(port), "--device", "cpu", *extra]
    env = dict(os.environ, PYTHONPATH=str(code))
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return wait_ready(process, port, f"the server of {code}")


def user_system(pid: int) -> tuple[float, float]:
    """utime and stime of a server and its worker processes, in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for p in (pid, *_children(pid)):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]) / tick, system + int(fields[12]) / tick
    return user, system


def h2load(port: int, body: Path, header_length: int, requests: int, clients: int) -> float:
    """Send `requests` infer requests; h2load's own CPU seconds."""
    command = ["h2load", "--h1", "-c", str(clients), "-n", str(requests), "-d", str(body)]
    command += ["-H", f"Inference-Header-Content-Length: {header_length}"]
    command.append(f"http://127.0.0.1:{port}/v2/models/model/infer")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if f"{requests} succeeded" not in out:
        raise RuntimeError(f"h2load: not every request succeeded\n{out}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else ["--max-batch-size", "32"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("revisions", nargs="+")
    parser.add_argument("--requests", type=int, default=15000, help="per server and round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = work / "lenet.onnx"
        compile_lenet(model, 32)
        blob = np.random.default_rng(1).standard_normal((1, 1, 32, 32)).astype(np.float32)
        tensor = {"name": "image", "shape": [1, 1, 32, 32], "datatype": "FP32"}
        tensor["parameters"] = {"binary_data_size": blob.nbytes}
        wanted = [{"name": "logits", "parameters": {"binary_data": True}}]
        header = json.dumps({"inputs": [tensor], "outputs": wanted}).encode()
        body = work / "body"
        body.write_bytes(header + blob.tobytes())
        servers = []
        try:
            for i, revision in enumerate(args.revisions):
                code = work / f"rev{i}"
                checkout(revision, code)
                servers.append((revision, *start(code, model, extra)))
            for _, _, port in servers:  # warm-up
                h2load(port, body, len(header), 2000, args.concurrency)
            costs: dict[str, list[tuple[float, float, float]]] = {r: [] for r in args.revisions}
            for _ in range(args.rounds):
                for revision, process, port in servers:
                    user, system = user_system(process.pid)
                    client = h2load(port, body, len(header), args.requests, args.concurrency)
                    user_after, system_after = user_system(process.pid)
                    per = 1e6 / args.requests
                    costs[revision].append(
                        ((user_after - user) * per, (system_after - system) * per, client * per)
                    )
        finally:
            for _, process, _ in servers:
                process.terminate()
                process.wait(timeout=30)
    print(
        f"{os.cpu_count()} CPUs, load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after; {args.rounds} interleaved rounds x {args.requests} "
        f"requests, concurrency {args.concurrency}, serve {' '.join(extra)}\n"
    )
    print("| revision | server CPU us/request (median) | min | user | system | h2load us/request |")
    print("|---|---:|---:|---:|---:|---:|")
    for revision, rounds in costs.items():
        a = np.array(rounds)
        total = a[:, 0] + a[:, 1]
        user, system, client = np.median(a, axis=0)
        print(
            f"| {revision} | {np.median(total):.1f} | {total.min():.1f} | {user:.1f} "
            f"| {system:.1f} | {client:.1f} |"
        )


if __name__ == "__main__":
    main()
