"""Initial weights without torch: IR graph -> {state_dict name: numpy array}.

`netlang compile` uses these when no checkpoint is given, so an ONNX file can be emitted (and its
shapes and speed checked) on a machine without PyTorch. The distributions follow torch's defaults
(`reset_parameters` of nn.Conv*/Linear/Embedding/BatchNorm/LayerNorm/LSTM/GRU); the `init`
attribute picks another scheme for weight tensors, with zero biases, by the same rules as
`netlang.backends.torch_init`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from netlang.backends.windows import relative_position_index
from netlang.ir import Graph, Node
from netlang.ops.registry import tuple_of

NORMS = ("batchnorm1d", "batchnorm2d", "layernorm", "layernorm2d")
CONVOLUTIONS = ("conv1d", "conv2d", "conv_transpose2d")


def init_weights(graph: Graph, seed: int = 0, *, init: str | None = None) -> dict[str, np.ndarray]:
    """Every parameter and buffer of `graph`, in `state_dict` order (`Graph.state`), drawn
    from one generator seeded by `seed`. `init` is the model-wide scheme for layers whose own
    `init` is "default", as in `to_torch(graph, init=...)`."""
    return {name: np.asarray(value) for name, value in plan_weights(graph, seed, init=init).items()}


def plan_weights(
    graph: Graph, seed: int = 0, *, init: str | None = None
) -> dict[str, np.ndarray | Drawn]:
    """`init_weights` with the random tensors not drawn yet: each is a `Drawn` that produces its
    values when it is read or written, so a compiler that streams them to a file never holds
    them (VGG-16: 0.55 GB never touched as fresh memory). Constants are plain arrays."""
    stream = Stream(seed)
    weights: dict[str, np.ndarray | Drawn] = {}
    owners = {n.key(local): (n, local) for n in graph.nodes for local in (*n.params, *n.buffers)}
    for name, shape in graph.state().items():
        weights[name] = _initial(*owners[name], shape, stream, init)
    return weights


def _initial(
    node: Node, local: str, shape: tuple[int, ...], stream: Stream, model_init: str | None
) -> np.ndarray | Drawn:
    if local == "num_batches_tracked":
        return np.zeros(shape, np.int64)
    if local == "relative_position_index":
        return relative_position_index(tuple_of(node.attrs["window"], 2))
    if node.op in NORMS or local.startswith("norm."):  # patch merging's `norm` too: affine
        # weight and running_var start at 1, bias and running_mean at 0
        leaf = local.rpartition(".")[2]
        return np.full(shape, 1.0 if leaf in ("weight", "running_var") else 0.0, np.float32)
    if node.op == "param" and not node.attrs["std"]:
        return np.full(shape, node.attrs["value"], np.float32)
    scheme = node.attrs.get("init")  # ops without one (attention, param) keep torch's, as there
    scheme = (model_init or "default") if scheme == "default" else scheme or "default"
    if scheme == "default":
        law = _torch_default(node, local, shape)
    elif local.startswith("weight"):
        law = SCHEMES[scheme](shape, node.op)
    else:
        return np.zeros(shape, np.float32)  # biases start at zero under every named scheme
    if law is None:
        return np.zeros(shape, np.float32)
    padding = node.attrs.get("padding_idx") if node.op == "embedding" else None
    return stream.add(shape, *law, zero_row=padding)  # the padding token's vector stays zero


CHUNK = 1 << 16  # elements drawn and scaled at a time, while they are still in cache
PIECE = 8 * CHUNK  # elements per piece handed to a writer (2 MiB of float32: under the 4 MiB
# from which numpy asks for huge pages, and half the hand-offs of 1 MiB ones)
RING = 3  # buffers a `Stream` cycles through: one piece written, one queued, one being drawn
Law = tuple[str, float, float]  # ("uniform" | "normal", scale, shift): draw(x) * scale + shift


def _uniform(bound: float) -> Law:
    return "uniform", 2 * bound, -bound  # U(-bound, bound)


def _normal(std: float) -> Law:
    return "normal", std, 0.0


class Stream:
    """One seeded generator shared by a model's random tensors, in state_dict order. The state
    at the start of each tensor is kept once reached, so any tensor can be drawn again (or out of
    order) with the same values; drawing them in order, as a writer does, draws each once."""

    def __init__(self, seed: int) -> None:
        self._starts = [np.random.PCG64(seed).state]  # state at the start of tensor i
        self._tensors: list[Drawn] = []
        self._ring: list[np.ndarray] = []  # RING buffers of PIECE values, made as first needed
        self._turn = 0

    def buffer(self, size: int) -> np.ndarray:
        """Room for the next piece of `size` <= PIECE values: the stream's RING buffers in turn,
        so a piece stays valid while the next RING - 1 pieces of any of its tensors are drawn.
        They are made once for all the tensors: a ring made per tensor was fresh memory whenever
        malloc did not recycle it (VGG-16 with 4 MiB pieces: 10-25K page faults, +0.1-0.4 s of
        system time on this project's host)."""
        if len(self._ring) < RING:
            self._ring.append(np.empty(PIECE, np.float32))
        buffer = self._ring[self._turn % RING]
        self._turn += 1
        return buffer[:size]

    def add(
        self, shape: tuple[int, ...], law: str, scale: float, shift: float, *, zero_row: int | None
    ) -> Drawn:
        drawn = Drawn(tuple(shape), law, scale, shift, zero_row, self, len(self._tensors))
        self._tensors.append(drawn)
        return drawn

    def generator(self, index: int) -> np.random.Generator:
        """A generator at the start of tensor `index` (drawing and dropping earlier ones that
        were never reached: a normal draw's consumption is not known ahead)."""
        while len(self._starts) <= index:
            skipped = self._tensors[len(self._starts) - 1]
            for _ in skipped.pieces():
                pass
        bits = np.random.PCG64()
        bits.state = self._starts[index]
        return np.random.Generator(bits)

    def reached(self, index: int, generator: np.random.Generator) -> None:
        if len(self._starts) == index + 1:
            self._starts.append(generator.bit_generator.state)


class Words:
    """The 32-bit words `Generator.random(dtype=float32)` consumes, taken in bulk from the bit
    generator's raw 64-bit outputs: numpy draws each float32 as (word >> 8) * 2**-24 from words
    split low half first, one call per number; `random_raw` fills a whole chunk in one call
    (VGG-16's 138M numbers: ~0.2 s instead of ~0.3 s of CPU) and the values are the same. The
    half of a word left over is carried between calls and put back in the generator's state."""

    def __init__(self, bits: np.random.BitGenerator) -> None:
        self.bits = bits
        state = bits.state
        self.pending: int | None = state["uinteger"] if state["has_uint32"] else None
        self.scratch = np.empty(CHUNK, np.uint32)

    def top24(self, count: int) -> np.ndarray:
        """The next `count` words' top 24 bits (count <= CHUNK), in a reused buffer, as int32:
        they fit, and int32 -> float32 is one vector instruction where uint32's is not (the
        conversion pass: ~35 -> ~25 ms of VGG-16's draws)."""
        out, need = self.scratch[:count], count
        if self.pending is not None and count:
            out[0], need, self.pending = self.pending >> 8, count - 1, None
        raw = self.bits.random_raw(-(-need // 2)).astype("<u8", copy=False).view("<u4")
        np.right_shift(raw[:need], 8, out=out[count - need :])
        if raw.size > need:
            self.pending = int(raw[need])
        return out.view(np.int32)

    def leave(self) -> None:
        """Put the carried half word back, as numpy's own float32 draws leave it."""
        state = self.bits.state
        state["has_uint32"], state["uinteger"] = int(self.pending is not None), self.pending or 0
        self.bits.state = state


@dataclasses.dataclass(eq=False)
class Drawn:
    """A float32 tensor of `law`, drawn from its `Stream` when read (`np.asarray`) or streamed
    (`pieces`); the values are the same either way, and equal one whole-array draw's."""

    shape: tuple[int, ...]
    law: str
    scale: float
    shift: float
    zero_row: int | None
    stream: Stream
    index: int
    dtype: ClassVar[np.dtype[Any]] = np.dtype(np.float32)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return 4 * self.size

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def pieces(self) -> Iterator[np.ndarray]:
        """The flat values in order, PIECE elements at a time, in the stream's reused buffers: a
        piece stays valid while the next RING - 1 are produced."""
        rng = self.stream.generator(self.index)
        words = Words(rng.bit_generator) if self.law == "uniform" else None
        size, row = self.size, self._row()
        for start in range(0, size, PIECE):
            piece = self.stream.buffer(min(PIECE, size - start))
            self._draw(words or rng, piece)
            if row is not None and row[0] < start + piece.size and start < row[1]:
                piece[max(row[0] - start, 0) : row[1] - start] = 0
            yield piece
        if words is not None:
            words.leave()
        self.stream.reached(self.index, rng)

    def _draw(self, source: Words | np.random.Generator, piece: np.ndarray) -> None:
        """draw(x) * scale + shift, chunk by chunk while in cache: one pass over memory instead of
        three; chunked draws continue one stream."""
        factor = np.float32(self.scale) * np.float32(2.0**-24)  # exact: a power of two
        for start in range(0, piece.size, CHUNK):
            chunk = piece[start : start + CHUNK]
            if isinstance(source, Words):  # uniform: (word >> 8) * 2**-24 * scale in one product
                np.multiply(source.top24(chunk.size), factor, out=chunk, dtype=np.float32)
            else:
                source.standard_normal(out=chunk, dtype=np.float32)
                chunk *= self.scale
            if self.shift:
                chunk += self.shift

    def _row(self) -> tuple[int, int] | None:
        """The element range of the row that stays zero, if any."""
        if self.zero_row is None:
            return None
        width = math.prod(self.shape[1:])
        row = self.zero_row % self.shape[0]
        return row * width, (row + 1) * width

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        value = np.empty(self.shape, np.float32)
        flat, start = value.reshape(-1), 0
        for piece in self.pieces():
            flat[start : start + piece.size] = piece
            start += piece.size
        return value if dtype is None else value.astype(dtype, copy=False)


def _torch_default(node: Node, local: str, shape: tuple[int, ...]) -> Law | None:
    """torch's `reset_parameters` for the tensor `local` of `node`; None: zeros."""
    if node.op in ("lstm", "gru"):
        return _uniform(1 / math.sqrt(node.attrs["hidden"]))
    if node.op == "embedding":
        return _normal(1.0)
    if node.op == "param":
        return "normal", node.attrs["std"], node.attrs["value"]
    if local == "relative_position_bias_table":  # torchvision: trunc_normal_(std=0.02)
        return _normal(0.02)
    if node.op == "attention" and local != "out_proj.weight":  # nn.MultiheadAttention's reset
        return _uniform(math.sqrt(6 / (shape[0] + shape[1]))) if len(shape) == 2 else None
    # Conv*/Linear (also a submodule's, `qkv.bias`): kaiming_uniform(a=sqrt(5)) gives bound
    # 1/sqrt(fan_in); the bias uses the weight's fan_in with the same bound.
    module = local.rpartition(".")[0]
    fan_in = _fan_in(node.params[f"{module}.weight" if module else "weight"])
    return _uniform(1 / math.sqrt(fan_in))


def _fan_in(shape: tuple[int, ...]) -> int:
    """torch's fan_in: size(1) times the receptive field (also for ConvTranspose's layout)."""
    return shape[1] * math.prod(shape[2:]) if len(shape) >= 2 else shape[0]


def _fan_out(shape: tuple[int, ...]) -> int:
    return shape[0] * math.prod(shape[2:]) if len(shape) >= 2 else shape[0]


def _kaiming(shape: tuple[int, ...], op: str) -> Law:
    """kaiming_normal_ for ReLU; convolutions use fan_out, as torchvision's ResNet does."""
    fan = _fan_out(shape) if op in CONVOLUTIONS else _fan_in(shape)
    return _normal(math.sqrt(2 / fan))


SCHEMES: dict[str, Callable[[tuple[int, ...], str], Law | None]] = {  # None: all zeros
    "kaiming": _kaiming,
    "xavier": lambda s, op: _uniform(math.sqrt(6 / (_fan_in(s) + _fan_out(s)))),
    "normal": lambda s, op: _normal(0.01),
    "zeros": lambda s, op: None,
}


def check_weights(graph: Graph, weights: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError unless `weights` holds every parameter and buffer the graph uses, each of
    the shape the IR gives it (extra entries are ignored)."""
    expected = graph.state()
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
