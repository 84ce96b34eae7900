"""Real `netlang serve` processes on free loopback ports, and their /metrics: what the tests
import (fixtures stay in conftest.py, which no test module imports)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO

from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str  # "127.0.0.1:PORT", as tritonclient wants it
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]  # the server's stderr

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int, token: str | None = None) -> Samples:
    """GET /metrics, read by prometheus_client's own parser: (sample name, labels) -> value."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as r:
        text = r.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def start_server(args: list[str]) -> Server:
    """Start `netlang serve ARGS --port P` and wait until /v2/health/ready answers 200.

    Its stderr goes to a file: a pipe nobody reads fills up (64 KiB on Linux, about 1,500 of
    uvicorn's "Invalid HTTP request received." warnings) and then the server's event loop blocks
    in its next log write, and no client gets an answer."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from netlang.cli import main; main()",
        "serve",
        *args,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--threads",
        "2",
    ]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            url = f"http://127.0.0.1:{port}/v2/health/ready"
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return Server(f"127.0.0.1:{port}", port, process, log)
        except (urllib.error.URLError, OSError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            log.seek(0)
            message = log.read().decode(errors="replace")
            log.close()
            raise RuntimeError(message)
        time.sleep(0.1)
