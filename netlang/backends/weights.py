"""Initial weights without torch: IR graph -> {state_dict name: numpy array}.

`netlang compile` uses these when no checkpoint is given, so an ONNX file can be emitted (and its
shapes and speed checked) on a machine without PyTorch. The distributions follow torch's defaults
(`reset_parameters` of nn.Conv*/Linear/Embedding/BatchNorm/LayerNorm/LSTM/GRU); the `init`
attribute picks another scheme for weight tensors, with zero biases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from netlang.ir import Graph, Node

NORMS = ("batchnorm1d", "batchnorm2d", "layernorm")
Init = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def init_weights(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """Every parameter and buffer of `graph`, in `state_dict` order (parameters first per node,
    then buffers, as torch lists them), drawn from one generator seeded by `seed`."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        for local, shape in {**node.params, **node.buffers}.items():
            weights[f"{node.name}.{local}"] = _initial(node, local, shape, rng)
    return weights


def _initial(node: Node, local: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if local == "num_batches_tracked":
        return np.zeros(shape, np.int64)
    if node.op in NORMS:  # affine weight and running_var start at 1, bias and running_mean at 0
        return np.full(shape, 1.0 if local in ("weight", "running_var") else 0.0, np.float32)
    scheme = node.attrs.get("init", "default")
    if scheme == "default":
        return _torch_default(node, local, shape, rng).astype(np.float32)
    if scheme == "zeros" or not local.startswith("weight"):
        return np.zeros(shape, np.float32)
    return SCHEMES[scheme](rng, shape).astype(np.float32)


def _torch_default(node: Node, local: str, shape: tuple[int, ...],
                   rng: np.random.Generator) -> np.ndarray:
    if node.op in ("lstm", "gru"):
        bound = 1 / math.sqrt(node.attrs["hidden"])
        return rng.uniform(-bound, bound, shape)
    if node.op == "embedding":
        table = rng.standard_normal(shape)
        if node.attrs.get("padding_idx") is not None:
            table[node.attrs["padding_idx"]] = 0
        return table
    # Conv*/Linear: kaiming_uniform(a=sqrt(5)) gives bound 1/sqrt(fan_in); the bias uses the
    # weight's fan_in with the same bound.
    fan_in = _fan_in(node.params["weight"])
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return rng.uniform(-bound, bound, shape)


def _fan_in(shape: tuple[int, ...]) -> int:
    """torch's fan_in: size(1) times the receptive field (also for ConvTranspose's layout)."""
    return shape[1] * math.prod(shape[2:]) if len(shape) >= 2 else shape[0]


def _fan_out(shape: tuple[int, ...]) -> int:
    return shape[0] * math.prod(shape[2:]) if len(shape) >= 2 else shape[0]


SCHEMES: dict[str, Init] = {
    "kaiming": lambda rng, s: rng.normal(0.0, math.sqrt(2 / _fan_in(s)), s),  # kaiming_normal_, relu
    "xavier": lambda rng, s: rng.uniform(-1, 1, s) * math.sqrt(6 / (_fan_in(s) + _fan_out(s))),
    "normal": lambda rng, s: rng.normal(0.0, 0.01, s),
}


def check_weights(graph: Graph, weights: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError unless `weights` holds every parameter and buffer the graph uses, each of
    the shape the IR gives it (extra entries are ignored)."""
    expected = {**graph.parameters(), **graph.buffers()}
    missing = [name for name in expected if name not in weights]
    wrong = [f"{name}: expected {list(shape)}, got {list(np.shape(weights[name]))}"
             for name, shape in expected.items()
             if name in weights and tuple(np.shape(weights[name])) != tuple(shape)]
    if missing or wrong:
        problems = ([f"missing {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}"]
                    if missing else []) + wrong[:8]
        raise ValueError(f"weights do not fit model `{graph.name}`: " + "; ".join(problems))
