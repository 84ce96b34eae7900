"""Initial weights without torch: IR graph -> {state_dict name: numpy array}.

`netlang compile` uses these when no checkpoint is given, so an ONNX file can be emitted (and its
shapes and speed checked) on a machine without PyTorch. The distributions follow torch's defaults
(`reset_parameters` of nn.Conv*/Linear/Embedding/BatchNorm/LayerNorm/LSTM/GRU); the `init`
attribute picks another scheme for weight tensors, with zero biases, by the same rules as
`netlang.backends.torch_init`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from netlang.ir import Graph, Node

NORMS = ("batchnorm1d", "batchnorm2d", "layernorm")
CONVOLUTIONS = ("conv1d", "conv2d", "conv_transpose2d")
Init = Callable[[np.random.Generator, tuple[int, ...], str], np.ndarray]  # (rng, shape, op)


def init_weights(graph: Graph, seed: int = 0, *, init: str | None = None) -> dict[str, np.ndarray]:
    """Every parameter and buffer of `graph`, in `state_dict` order (node by node, parameters
    before buffers), drawn from one generator seeded by `seed`. `init` is the model-wide scheme
    for layers whose own `init` is "default", as in `to_torch(graph, init=...)`."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        for local, shape in {**node.params, **node.buffers}.items():
            weights[node.key(local)] = _initial(node, local, shape, rng, init)
    return weights


def _initial(
    node: Node, local: str, shape: tuple[int, ...], rng: np.random.Generator, model_init: str | None
) -> np.ndarray:
    if local == "num_batches_tracked":
        return np.zeros(shape, np.int64)
    if node.op in NORMS:  # affine weight and running_var start at 1, bias and running_mean at 0
        return np.full(shape, 1.0 if local in ("weight", "running_var") else 0.0, np.float32)
    scheme = node.attrs.get("init", "default")
    scheme = (model_init or "default") if scheme == "default" else scheme
    if scheme == "default":
        value = _torch_default(node, shape, rng)
    elif local.startswith("weight"):
        value = SCHEMES[scheme](rng, shape, node.op)
    else:
        return np.zeros(shape, np.float32)  # biases start at zero under every named scheme
    if node.op == "embedding" and node.attrs.get("padding_idx") is not None:
        value[node.attrs["padding_idx"]] = 0  # the padding token's vector stays zero
    return value


CHUNK = 1 << 16  # elements drawn and scaled at a time, while they are still in cache


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], bound: float) -> np.ndarray:
    """U(-bound, bound) as float32, drawn and scaled in place chunk by chunk: one pass over
    memory instead of three (VGG-16: 138M weights)."""
    return _drawn(shape, lambda out: rng.random(out=out, dtype=np.float32), 2 * bound, -bound)


def _normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    return _drawn(shape, lambda out: rng.standard_normal(out=out, dtype=np.float32), std, 0.0)


def _drawn(
    shape: tuple[int, ...], draw: Callable[[np.ndarray], object], scale: float, shift: float
) -> np.ndarray:
    """`draw(x) * scale + shift` in a new float32 array; chunked draws continue one stream, so
    the values equal one whole-array draw's."""
    value = np.empty(shape, np.float32)
    flat = value.reshape(-1)
    for start in range(0, flat.size, CHUNK):
        chunk = flat[start : start + CHUNK]
        draw(chunk)
        chunk *= scale
        if shift:
            chunk += shift
    return value


def _torch_default(node: Node, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if node.op in ("lstm", "gru"):
        return _uniform(rng, shape, 1 / math.sqrt(node.attrs["hidden"]))
    if node.op == "embedding":
        return _normal(rng, shape, 1.0)
    # Conv*/Linear: kaiming_uniform(a=sqrt(5)) gives bound 1/sqrt(fan_in); the bias uses the
    # weight's fan_in with the same bound.
    fan_in = _fan_in(node.params["weight"])
    return _uniform(rng, shape, 1 / math.sqrt(fan_in))


def _fan_in(shape: tuple[int, ...]) -> int:
    """torch's fan_in: size(1) times the receptive field (also for ConvTranspose's layout)."""
    return shape[1] * math.prod(shape[2:]) if len(shape) >= 2 else shape[0]


def _fan_out(shape: tuple[int, ...]) -> int:
    return shape[0] * math.prod(shape[2:]) if len(shape) >= 2 else shape[0]


def _kaiming(rng: np.random.Generator, shape: tuple[int, ...], op: str) -> np.ndarray:
    """kaiming_normal_ for ReLU; convolutions use fan_out, as torchvision's ResNet does."""
    fan = _fan_out(shape) if op in CONVOLUTIONS else _fan_in(shape)
    return _normal(rng, shape, math.sqrt(2 / fan))


SCHEMES: dict[str, Init] = {
    "kaiming": _kaiming,
    "xavier": lambda rng, s, op: _uniform(rng, s, math.sqrt(6 / (_fan_in(s) + _fan_out(s)))),
    "normal": lambda rng, s, op: _normal(rng, s, 0.01),
    "zeros": lambda rng, s, op: np.zeros(s, np.float32),
}


def check_weights(graph: Graph, weights: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError unless `weights` holds every parameter and buffer the graph uses, each of
    the shape the IR gives it (extra entries are ignored)."""
    expected = {**graph.parameters(), **graph.buffers()}
    missing = [name for name in expected if name not in weights]
    wrong = [
        f"{name}: expected {list(shape)}, got {list(np.shape(weights[name]))}"
        for name, shape in expected.items()
        if name in weights and tuple(np.shape(weights[name])) != tuple(shape)
    ]
    if missing or wrong:
        problems = (
            [f"missing {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}"]
            if missing
            else []
        ) + wrong[:8]
        raise ValueError(f"weights do not fit model `{graph.name}`: " + "; ".join(problems))
