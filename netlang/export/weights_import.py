"""Weight import: a PyTorch `state_dict` file (.pth) + a netlang model -> checked safetensors
weights.

The model is named as `stdlib:resnet50` (a standard-library model, matched ignoring case and
underscores) or `path/to/file.net[:Model]`. Every key the model needs is checked by name and
shape against the file, and every problem is reported, not just the first, so a checkpoint from
a slightly different architecture shows exactly where the two part ways.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlang.diagnostics import CompileError, did_you_mean
from netlang.ir import Graph
from netlang.semantics.program import Program, compile_source, read_source
from netlang.semantics.loader import STDLIB_PREFIX, read_stdlib, stdlib_names
from netlang.diagnostics.source import SourceFile

if TYPE_CHECKING:
    import torch

STDLIB_SCHEME = "stdlib:"
# Buffers that torch's BatchNorm fills in itself when a pre-1.0 checkpoint lacks them.
OPTIONAL_BUFFERS = ("num_batches_tracked",)


class ImportProblem(Exception):
    """A target that names no model, or a file that holds no state_dict: a usage error."""


@dataclass(frozen=True)
class WeightReport:
    """How a state_dict fits a graph: keys it lacks, keys the graph lacks, shapes that differ."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def lines(self) -> list[str]:
        """One line per problem, in the model's key order, then the file's extra keys."""
        return (
            [f"missing key: {name}" for name in self.missing]
            + [
                f"shape mismatch: {name}: model expects {list(want)}, file has {list(got)}"
                for name, want, got in self.mismatched
            ]
            + [f"unexpected key: {name}" for name in self.unexpected]
        )


def normalise(name: str) -> str:
    """`ResNet50`, `resnet50`, `VGG16_BN` and `vgg16_bn` all match (lower case, no separators)."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def resolve_target(target: str) -> tuple[Program, str]:
    """The program and model name a `--into` target names.

    Raises:
        ImportProblem: no such file or model.
        CompileError: the file does not compile.
    """
    if target.startswith(STDLIB_SCHEME):
        return _stdlib_model(target[len(STDLIB_SCHEME) :])
    path, _, model = target.rpartition(":")
    if not path.endswith(".net"):
        path, model = target, ""
    if not Path(path).is_file():
        raise ImportProblem(f"no such file: {path}")
    program = _compiled(read_source(path))
    if model and model not in program.models:
        raise ImportProblem(f"{path} has no model `{model}`" + _suggest(model, program.models))
    return program, model or program.default_model()


def _stdlib_model(wanted: str) -> tuple[Program, str]:
    everything: list[str] = []
    for stem in stdlib_names():
        program = _compiled(SourceFile(f"{STDLIB_PREFIX}{stem}.net", read_stdlib(stem) or ""))
        for model in program.models:
            if normalise(model) == normalise(wanted):
                return program, model
            everything.append(model)
    raise ImportProblem(
        f"the standard library has no model `{wanted}`" + _suggest(wanted, everything)
    )


def _suggest(name: str, names: list[str]) -> str:
    """Names are matched ignoring case and `_`/`-`, so the suggestion is compared the same way."""
    by_key = {normalise(n): n for n in names}
    match = did_you_mean(normalise(name), by_key)
    hint = match and f"did you mean `{by_key[match.split('`')[1]]}`?"
    return f"; {hint}" if hint else f"; models: {', '.join(names)}"


def _compiled(source: SourceFile) -> Program:
    program, diagnostics, sources = compile_source(source)
    if program is None:
        raise CompileError(diagnostics, sources)
    return program


def compare(graph: Graph, shapes: dict[str, tuple[int, ...]]) -> WeightReport:
    """Match a state_dict's key -> shape table against the graph's parameters and buffers."""
    expected = graph.state()
    missing = [
        name
        for name in expected
        if name not in shapes and not name.endswith(tuple(f".{b}" for b in OPTIONAL_BUFFERS))
    ]
    mismatched = [
        (name, tuple(want), tuple(shapes[name]))
        for name, want in expected.items()
        if name in shapes and tuple(shapes[name]) != tuple(want)
    ]
    unexpected = [name for name in shapes if name not in expected]
    return WeightReport(missing, unexpected, mismatched)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a `.pth` file, loaded with `weights_only=True` (no pickled code runs).

    A training checkpoint that wraps the weights as {"state_dict": {...}} or {"model": {...}}
    is unwrapped.
    """
    import torch

    try:
        loaded: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for unreadable files
        raise ImportProblem(f"cannot read {path} as a weights-only torch file: {exc}") from None
    for key in ("state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise ImportProblem(f"{path} does not hold a state_dict (a mapping of names to tensors)")
    return dict(loaded)


def fit_weights(
    graph: Graph, state: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], WeightReport]:
    """The graph's weights taken from `state`, in the graph's order, and the report; the weights
    are only complete when `report.ok`. Missing optional buffers start at zero, as torch does."""
    import torch

    report = compare(graph, {name: tuple(tensor.shape) for name, tensor in state.items()})
    expected = graph.state()
    weights = {
        name: state[name].detach().contiguous()
        if name in state
        else torch.zeros(shape, dtype=torch.int64)
        for name, shape in expected.items()
        if name in state or name not in report.missing
    }
    return weights, report


def save_checkpoint(
    path: str | Path, weights: dict[str, torch.Tensor], graph: Graph, program: Program
) -> None:
    """Write the weights as safetensors with the model's source, name and arguments as metadata,
    so `netlang export` and fine-tuning need nothing else."""
    from safetensors.torch import save_file

    from netlang.export.ship import ARGUMENTS_KEY, MODEL_KEY, SOURCE_KEY, SOURCE_NAME_KEY

    metadata = {
        SOURCE_KEY: program.source.text,
        SOURCE_NAME_KEY: program.source.name,
        MODEL_KEY: graph.name,
        ARGUMENTS_KEY: json.dumps(graph.arguments, sort_keys=True),
    }
    save_file(weights, str(path), metadata=metadata)
