"""Transfer learning: a checkpoint + the model's layers + the stages' patterns -> loaded weights, a
weight-mapping report, and per stage the frozen layers, batch-norm modes and optimiser groups.

Layer patterns (in `replace`, `freeze`, `unfreeze`, `lr_mult`) name layers as the IR does: an exact
name or a prefix (`features` covers `features.0`, `layer1` covers `layer1.0.conv1`), a glob
(`features.*`, `layer[1-3]*`, matched against a layer's name and each of its dotted prefixes), or a
range `a..b` of top-level layers in model order. A pattern that matches nothing is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlang.backends.stored import damaged
from netlang.semantics.layer_patterns import Layers, TransferError
from netlang.train.config import StageConfig, TrainConfig

if TYPE_CHECKING:
    import torch

    from netlang.ir import Graph

# Unused checkpoint keys listed by name in the report; the rest are counted.
UNUSED_SHOWN = 8


@dataclass
class StagePlan:
    """Each stage's frozen layers and learning-rate factor per layer, checked up front so that a
    bad pattern in the last stage fails before the first batch."""

    stages: tuple[StageConfig, ...]
    frozen: list[set[str]]
    factors: list[dict[str, float]]  # layer -> multiplier, for layers with one
    hooks: list[Any] = field(default_factory=list)

    @classmethod
    def build(cls, config: TrainConfig, layers: Layers) -> StagePlan:
        stages = config.plan()
        return cls(
            stages,
            [frozen_layers(layers, s) for s in stages],
            [_factors(layers, s.lr_mult) for s in stages],
        )

    def apply(self, module: torch.nn.Module, index: int) -> list[dict[str, Any]]:
        """Freeze stage `index`'s layers (requires_grad, batch-norm mode) and return the optimiser's
        parameter groups: the trainable parameters at the stage's rate, times any multiplier."""
        import torch

        for hook in self.hooks:
            hook.remove()
        self.hooks.clear()
        stage, frozen, factors = self.stages[index], self.frozen[index], self.factors[index]
        groups: dict[float, list[torch.nn.Parameter]] = {1.0: []}  # the stage's rate first
        for name, sub in module.named_modules():
            for param in sub.parameters(recurse=False):
                param.requires_grad_(name not in frozen)
                if name in frozen:
                    param.grad = None
                else:
                    groups.setdefault(factors.get(name, 1.0), []).append(param)
            if (
                name in frozen
                and stage.bn == "frozen"
                and isinstance(sub, torch.nn.modules.batchnorm._BatchNorm)
            ):
                self.hooks.append(sub.register_forward_pre_hook(_eval_mode))
        if not any(groups.values()):
            raise TransferError(f"stage {stage.name} freezes every layer: nothing would train")
        lr = stage.optimizer.lr
        return [
            {"params": params, "lr": lr * factor} for factor, params in groups.items() if params
        ]


def _eval_mode(module: torch.nn.Module, inputs: Any) -> None:
    """A frozen batch-norm layer normalises with its running statistics and never updates them,
    however often the loop switches the model to training mode."""
    module.training = False


def frozen_layers(layers: Layers, stage: StageConfig) -> set[str]:
    """The layers `freeze` names, less those `unfreeze` names."""
    frozen = layers.match(stage.freeze, "freeze") if stage.freeze else set()
    return frozen - (layers.match(stage.unfreeze, "unfreeze") if stage.unfreeze else set())


def _factors(layers: Layers, lr_mult: dict[str, float]) -> dict[str, float]:
    factors: dict[str, float] = {}
    owner: dict[str, str] = {}
    for pattern, factor in lr_mult.items():
        for name in layers.match([pattern], "lr_mult"):
            if name in owner:
                raise TransferError(
                    f"train.lr_mult: layer {name} is named by both {owner[name]} and {pattern}"
                )
            owner[name], factors[name] = pattern, factor
    return factors


# --- weights: checkpoint -> the model's state, checked ------------------------------------------


@dataclass
class WeightMap:
    """What a checkpoint gives the model: tensors to load, tensor names left at their new
    initialisation (replaced layers), the checkpoint's keys of those replaced layers (its old
    head), and checkpoint keys nothing uses."""

    source: str
    loaded: dict[str, torch.Tensor]
    new: list[str]
    unused: list[str]
    replaced: list[str] = field(default_factory=list)


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """Tensors from a netlang run directory (best, else last checkpoint), a safetensors file, or a
    PyTorch state_dict file (weights only); returns them with a description of the source."""
    from netlang.export.weights_import import ImportProblem, read_state_dict

    if path.is_dir():
        for name in ("best", "last"):
            file = path / "checkpoints" / f"{name}.safetensors"
            if file.is_file():
                return _load(file), f"{path} (run directory, {name} checkpoint)"
        raise TransferError(
            f"weights: {path} is a folder without checkpoints/best.safetensors "
            "or last.safetensors; is it a netlang run directory?"
        )
    if not path.is_file():
        raise TransferError(
            f"weights: no such file or run directory: {path}",
            "the path is relative to the .net file; train the model the weights come from "
            "first, with --out that folder",
        )
    if path.suffix == ".safetensors":
        return _load(path), f"{path} (safetensors)"
    try:
        return read_state_dict(path), f"{path} (PyTorch state_dict)"
    except ImportProblem as problem:
        raise TransferError(f"weights: {problem}") from None


def _load(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except SafetensorError as problem:
        raise TransferError(f"weights: {damaged(path, problem)}") from None


def map_weights(
    graph: Graph, state: dict[str, torch.Tensor], replaced: set[str], source: str
) -> WeightMap:
    """Match the checkpoint to the graph by name and shape, leaving out `replaced` layers.

    Raises:
        TransferError: every shape mismatch (naming the layer and both shapes) and every tensor
            the checkpoint lacks, for layers not in `replace`.
    """
    from netlang.export.weights_import import compare

    owners = _owners(graph)
    report = compare(graph, {name: tuple(tensor.shape) for name, tensor in state.items()})
    problems = [
        f"layer {owners[name]}: {name} is {list(got)} in the checkpoint but {list(want)} "
        "in the model"
        for name, want, got in report.mismatched
        if owners[name] not in replaced
    ]
    problems += [
        f"layer {owners[name]}: the checkpoint has no {name}"
        for name in report.missing
        if owners[name] not in replaced
    ]
    if problems:
        layers = ", ".join(
            f'"{name}"'
            for name in dict.fromkeys(
                owners[name]
                for name in [*(m[0] for m in report.mismatched), *report.missing]
                if owners[name] not in replaced
            )
        )
        unused = [name for name in state if name not in owners]
        raise TransferError(
            f"the weights in {source} do not fit {graph.name}:\n  "
            + "\n  ".join(problems)
            + _unused_note(unused, graph)
            + "\nto initialise these layers anew "
            f"instead, list them in `replace`: replace [{layers}]"
        )
    loaded = {
        name: tensor
        for name, tensor in state.items()
        if name in owners and owners[name] not in replaced
    }
    new = [name for name, layer in owners.items() if layer in replaced]
    dropped = [name for name in state if name in owners and owners[name] in replaced]
    unused = [name for name in state if name not in loaded and name not in dropped]
    return WeightMap(source, loaded, new, unused, dropped)


def _owners(graph: Graph) -> dict[str, str]:
    """state_dict name -> the layer (node) that holds it."""
    return {
        node.key(local): node.name
        for node in graph.nodes
        for local in (*node.params, *node.buffers)
    }


def _unused_note(unused: list[str], graph: Graph) -> str:
    """Why names that are missing may still be in the file: the checkpoint's own keys that no
    layer of this model takes (another model's names, e.g. `0.weight` of an unlabelled chain
    against `c1.weight`), so the mismatch is one of names, not of weights."""
    if not unused:
        return ""
    ours = ", ".join(sorted({node.name.split(".")[0] for node in graph.nodes if node.params}))
    return (
        f"\n{_keys('unused checkpoint keys', unused)}: the checkpoint names its "
        f"layers differently (this model's are {ours}); it was saved from another model, or "
        "one whose layers are labelled otherwise"
    )


def load_into(module: torch.nn.Module, weights: WeightMap) -> None:
    """Copy the mapped tensors into the module (in its dtype); the rest keep their init."""
    import torch

    state = module.state_dict()
    with torch.no_grad():
        for name, tensor in weights.loaded.items():
            state[name].copy_(tensor.to(state[name].dtype))


def prepare(
    module: torch.nn.Module, graph: Graph, config: TrainConfig, base_dir: Path, *, load: bool
) -> str:
    """Check the plan against the model, load the weights (unless `load` is False, as on resume)
    and return the weight-mapping report, before any batch runs.

    Raises:
        TransferError: a checkpoint that does not fit, or a pattern that names no layer.
    """
    layers = Layers(node.name for node in graph.nodes)
    plan = StagePlan.build(config, layers)
    learning = {node.name for node in graph.nodes if node.params}
    for stage, frozen in zip(plan.stages, plan.frozen):
        if learning <= frozen:
            raise TransferError(f"stage {stage.name} freezes every layer: nothing would train")
    weights = None
    if config.weights is not None:
        replaced = layers.match(config.replace, "replace") if config.replace else set()
        state, source = read_checkpoint(base_dir / config.weights)
        weights = map_weights(graph, state, replaced, source)
        if load:
            load_into(module, weights)
    return format_report(graph, plan, weights)


def format_report(graph: Graph, plan: StagePlan, weights: WeightMap | None) -> str:
    """Parameter counts per top-level layer: loaded, newly initialised, and frozen / trainable in
    each stage; then the checkpoint keys nothing used."""
    counts = {
        node.key(local): (node.name, prod(shape))
        for node in graph.nodes
        for local, shape in node.params.items()
    }
    loaded = set(weights.loaded) if weights is not None else set()
    headers = ["layer", "params", "loaded", "new"] + [
        f"{s.name}: frozen/trainable" for s in plan.stages
    ]
    rows: list[list[int | str]] = []
    for top in Layers(node.name for node in graph.nodes).top:
        mine = [
            (name, layer, n) for name, (layer, n) in counts.items() if layer.split(".")[0] == top
        ]
        if mine:
            rows.append(_row(top, mine, loaded, plan))
    rows.append(
        _row("total", [(name, layer, n) for name, (layer, n) in counts.items()], loaded, plan)
    )
    table = _table(headers, rows)
    title = (
        f"weights from {weights.source}"
        if weights is not None
        else "no weights given: every layer starts from its initialisation"
    )
    lines = [title, *table]
    if weights is not None and weights.replaced:
        lines.append(_keys("replaced (new head), not loaded", weights.replaced))
    if weights is not None and weights.unused:
        lines.append(_keys("unused checkpoint keys", weights.unused))
    return "\n".join(lines)


def _keys(what: str, names: list[str]) -> str:
    """`what (N): a, b, c and 5 more`."""
    more = len(names) - UNUSED_SHOWN
    shown = ", ".join(names[:UNUSED_SHOWN]) + (f" and {more} more" if more > 0 else "")
    return f"{what} ({len(names)}): {shown}"


def _row(
    label: str, params: list[tuple[str, str, int]], loaded: set[str], plan: StagePlan
) -> list[int | str]:
    total = sum(n for _, _, n in params)
    got = sum(n for name, _, n in params if name in loaded)
    stages = []
    for frozen in plan.frozen:
        still = sum(n for _, layer, n in params if layer in frozen)
        stages.append(f"{still:,}/{total - still:,}")
    return [label, f"{total:,}", f"{got:,}", f"{total - got:,}", *stages]


def _table(headers: list[str], rows: list[list[int | str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells: list[Any]) -> str:
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        )

    return [line(headers), *(line(row) for row in rows)]
