"""Several server processes (`--workers N`) under uvicorn's supervisor, with metrics they share.

The parent creates a private directory for prometheus_client's multiprocess files and names it
in PROMETHEUS_MULTIPROC_DIR before uvicorn spawns the workers, which inherit it (`metrics.py`).
Whenever a worker has exited (died and replaced by uvicorn, or retired by SIGHUP or SIGTTOU) the
parent calls `mark_process_dead` for it, so its share of the live gauges stops counting: the
bookkeeping gunicorn's `child_exit` hook is for, which uvicorn has no hook for, hence the subclass
of its supervisor. The directory is removed when the server stops.
"""

from __future__ import annotations

import os
import socket
import tempfile
from typing import Any

from prometheus_client.multiprocess import mark_process_dead
from uvicorn import Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from netlang.serve.metrics import MULTIPROC_DIR_ENV


class _Supervisor(Multiprocess):
    """uvicorn's worker supervisor, marking each exited worker dead for prometheus_client."""

    def __init__(self, config: Config, sockets: list[socket.socket], metrics_dir: str) -> None:
        super().__init__(config, sockets=sockets)
        self._metrics_dir = metrics_dir
        self._watched: dict[int, Process] = {}  # workers seen alive, by pid

    def handle_signals(self) -> None:  # SIGHUP and SIGTTOU retire workers
        self._reap()
        super().handle_signals()
        self._reap()

    def keep_subprocess_alive(self) -> None:  # replaces workers that died or hung
        self._reap()
        super().keep_subprocess_alive()
        self._reap()

    def _reap(self) -> None:
        for process in self.processes:
            if process.pid is not None:
                self._watched.setdefault(process.pid, process)
        for pid, process in list(self._watched.items()):
            if process.exitcode is not None:
                mark_process_dead(pid, self._metrics_dir)
                del self._watched[pid]


def run_workers(app: str, **options: Any) -> None:
    """`uvicorn.run(app, workers=N, ...)`, the workers' metrics added up in one /metrics."""
    config = Config(app, **options)
    with tempfile.TemporaryDirectory(prefix="netlang-metrics-") as metrics_dir:
        os.environ[MULTIPROC_DIR_ENV] = metrics_dir  # inherited by the spawned workers
        try:
            _Supervisor(config, [config.bind_socket()], metrics_dir).run()
        finally:
            del os.environ[MULTIPROC_DIR_ENV]
