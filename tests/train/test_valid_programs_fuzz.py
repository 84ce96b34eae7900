"""If `check` passes, `train` starts: valid programs (the examples and the standard library with
numbers, layers and train entries edited, kept when `check` accepts them) train for an epoch on
synthetic data of their declared input type through `netlang train`'s own entry (train_file),
with a finite loss or a located diagnostic before the first step, never a Python exception; and
what they trained compiles to ONNX that onnxruntime runs to the torch module's eval output.

NETLANG_FUZZ_EXAMPLES=N runs N examples, the standard library's larger networks included (the
hunt; CI runs 30 examples of the small ones)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import onnxruntime as ort
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netlang
from netlang.diagnostics import CompileError
from netlang.diagnostics.source import SourceFile
from netlang.export.ship import Trained, read_weights, write_onnx
from netlang.backends.torch_module import to_torch
from netlang.semantics.program import compile_source
from netlang.train.run import train_file
from netlang.train.state import NonFiniteLoss
from tests.train.valid_programs import fake_load_data, programs, seeds

EXAMPLES = int(os.environ.get("NETLANG_FUZZ_EXAMPLES", "0"))
POOL = seeds(big=EXAMPLES > 0)
TOLERANCE = 1e-4  # |onnxruntime - torch| relative to max(1, |torch|)


def passes_check(text: str) -> bool:
    program, diagnostics, _ = compile_source(SourceFile("fuzz.net", text))
    if program is not None:
        diagnostics = [*diagnostics, *program.check()]
    return program is not None and not any(d.severity.name == "ERROR" for d in diagnostics)


def trains_and_exports(text: str, counts: tuple[int, int, int], folder: Path) -> None:
    """Train `text` for an epoch on synthetic data; compare its ONNX with its torch module."""
    path = folder / "fuzz.net"
    path.write_text(text)
    graph = netlang.load(path).build(fit=True)[0]
    if graph is None or graph.train is None or len(graph.inputs) != 1:
        return
    fake = fake_load_data(graph, counts, seed=sum(counts))
    overrides = {"epochs": 1, "device": "cpu", "out": str(folder / "run"), "compile": False}
    try:
        with mock.patch("netlang.data.load_data", fake):
            train_file(path, overrides=overrides, log=lambda line: None, quiet=True)
    except CompileError as located:
        assert located.diagnostics and all(d.span is not None for d in located.diagnostics)
        return
    except NonFiniteLoss as diverged:  # a step was taken: lr 10 may diverge, as it would
        assert "epoch 1, batch 1;" not in str(diverged), str(diverged)
        return
    weights_file = folder / "run" / "checkpoints" / "best.safetensors"
    _agrees_with_onnxruntime(text, graph, weights_file, fake, counts, folder)


def _agrees_with_onnxruntime(text, graph, weights_file, fake, counts, folder) -> None:  # noqa: ANN001
    from safetensors.torch import load_file

    module = to_torch(graph)
    module.load_state_dict(load_file(weights_file))
    module.eval()
    x = fake(graph.train.entries["data"]).train.x
    if x.dtype == object:  # text: token ids, as the trained model saw them
        x = np.random.default_rng(0).integers(0, 2, (len(x), *_fixed(graph.inputs[0].type.shape)))
    onnx_path = write_onnx(
        Trained(SourceFile("fuzz.net", text), graph, read_weights(weights_file)),
        folder / "m.onnx",
    )
    runner = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = {graph.inputs[0].name: x}
    with torch.no_grad():
        expected = module(torch.from_numpy(x))
    expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    for got, reference in zip(runner.run(None, feed), expected):
        reference = reference.float().numpy()
        scale = max(1.0, float(np.abs(reference).max(initial=0.0)))
        assert np.abs(got - reference).max(initial=0.0) <= TOLERANCE * scale


def _fixed(shape: tuple[object, ...]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else 6 for d in shape[1:])


@pytest.mark.fuzz
@settings(
    max_examples=EXAMPLES or 30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(programs(POOL), st.tuples(st.integers(2, 9), st.integers(1, 4), st.integers(1, 4)))
def test_what_check_accepts_trains_and_compiles(text: str, counts: tuple[int, int, int]) -> None:
    if not passes_check(text):
        return
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        trains_and_exports(text, counts, Path(folder))
