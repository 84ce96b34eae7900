"""Fixtures: ONNX models on disk and real `netlang serve` processes on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.serve.serve_models import save_classifier, save_fixed, save_mixed
from tests.serve.servers import Server, start_server


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("models")
    save_classifier(d / "clf.onnx")
    save_mixed(d / "mixed.onnx")
    save_fixed(d / "fixed.onnx")
    return d


@pytest.fixture(scope="module")
def plain_server(model_dir: Path) -> Iterator[Server]:
    """Batching off, two models, default guards."""
    server = start_server([str(model_dir / "clf.onnx"), str(model_dir / "mixed.onnx")])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[[list[str]], Server]]:
    """Start `netlang serve ARGS` processes on demand; all are stopped after the module."""
    started: list[Server] = []

    def start(args: list[str]) -> Server:
        started.append(start_server(args))
        return started[-1]

    yield start
    for server in started:
        server.stop()
