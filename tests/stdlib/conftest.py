"""Fixtures for the standard-library tests: stdlib models by name, and the shared comparisons
(torch module vs a reference module, ONNX through onnxruntime vs a reference output)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from netlang.ir import Graph
from netlang.semantics.program import Program
from netlang.export.weights_import import normalise, resolve_target

BuildModel = Callable[..., Graph]


@pytest.fixture(scope="session")
def stdlib_model() -> BuildModel:
    """`stdlib_model("ResNet50", classes=10)` -> the model's graph (each file is loaded once)."""
    programs: dict[str, tuple[Program, str]] = {}

    def build(name: str, **arguments: Any) -> Graph:
        key = normalise(name)
        if key not in programs:
            programs[key] = resolve_target(f"stdlib:{name}")
        program, model = programs[key]
        return program.model(model, **arguments)

    return build
