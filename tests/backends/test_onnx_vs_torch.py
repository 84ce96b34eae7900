"""Differential: the torch backend (eval mode) and the ONNX backend (onnxruntime) computing the
same multi-node graphs with the same weights (the module's state_dict) give the same outputs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnxruntime as ort
import pytest
import torch

from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.semantics.builder import GraphBuilder
from netlang.ir import Graph, TensorType


def lenet() -> Graph:
    b = GraphBuilder("LeNet")
    (x,) = [b.input("image", TensorType("float32", ("N", 1, 28, 28)))]
    for op, attrs, name in [
        ("conv2d", {"channels": 6, "kernel": 5, "padding": 2}, "c1"),
        ("tanh", {}, "a1"),
        ("avgpool2d", {"kernel": 2}, "s2"),
        ("conv2d", {"channels": 16, "kernel": 5}, "c3"),
        ("tanh", {}, "a3"),
        ("maxpool2d", {"kernel": 2, "ceil_mode": True}, "s4"),
        ("flatten", {}, "flat"),
        ("linear", {"features": 120}, "f5"),
        ("relu", {}, "a5"),
        ("dropout", {"p": 0.5}, "drop"),
        ("linear", {"features": 84}, "f6"),
        ("gelu", {}, "a6"),
        ("linear", {"features": 10}, "logits"),
        ("log_softmax", {}, "log_probs"),
    ]:
        (x,) = b.apply(op, [x], attrs, name)
    return b.finish({"log_probs": x})


def residual() -> Graph:
    """A ResNet basic block with a strided 1x1 projection shortcut, then a pooled head."""
    b = GraphBuilder("ResidualBlock")
    x = b.input("image", TensorType("float32", ("N", 8, 10, 10)))

    def conv_bn(value: str, name: str, channels: int, kernel: int, stride: int) -> str:
        (value,) = b.apply(
            "conv2d",
            [value],
            {
                "channels": channels,
                "kernel": kernel,
                "stride": stride,
                "padding": kernel // 2,
                "bias": False,
            },
            f"{name}.conv",
        )
        return b.apply("batchnorm2d", [value], {}, f"{name}.bn")[0]

    (h,) = b.apply("relu", [conv_bn(x, "block.conv1", 16, 3, 2)], {}, "block.relu1")
    h = conv_bn(h, "block.conv2", 16, 3, 1)
    shortcut = conv_bn(x, "block.downsample", 16, 1, 2)
    (h,) = b.apply("add", [h, shortcut], {}, "block.add")
    (h,) = b.apply("relu", [h], {}, "block.relu2")
    (h,) = b.apply("lrn", [h], {"size": 5}, "norm")
    (h,) = b.apply("adaptive_avgpool2d", [h], {"size": 1}, "pool")
    (h,) = b.apply("flatten", [h], {}, "flat")
    (h,) = b.apply("linear", [h], {"features": 5}, "fc")
    return b.finish({"logits": h})


def tagger() -> Graph:
    """Tokens -> embedding -> 2-layer bidirectional LSTM -> GRU -> last step -> classes."""
    b = GraphBuilder("Tagger")
    t = b.input("tokens", TensorType("int64", ("N", "T")))
    (h,) = b.apply("embedding", [t], {"num": 50, "dim": 16}, "embed")
    (h,) = b.apply("lstm", [h], {"hidden": 12, "layers": 2, "bidirectional": True}, "lstm")
    (h,) = b.apply("layernorm", [h], {}, "norm")
    (h,) = b.apply("gru", [h], {"hidden": 8}, "gru")
    (h,) = b.apply("select", [h], {"axis": 1, "index": -1}, "last")
    (h,) = b.apply("linear", [h], {"features": 4}, "fc")
    (h,) = b.apply("softmax", [h], {}, "probs")
    return b.finish({"probs": h})


def images(shape: tuple[int, ...]) -> Callable[[int], np.ndarray]:
    return lambda batch: (
        np.random.default_rng(batch).standard_normal((batch, *shape)).astype(np.float32)
    )


def tokens(batch: int) -> np.ndarray:
    return np.random.default_rng(batch).integers(0, 50, (batch, 9))


MODELS = {
    "lenet": (lenet, images((1, 28, 28))),
    "residual": (residual, images((8, 10, 10))),
    "tagger": (tagger, tokens),
}


def trained(module: torch.nn.Module) -> dict[str, np.ndarray]:
    """The module's state_dict as numpy, batch-norm statistics moved off their initial values."""
    generator = torch.Generator().manual_seed(0)
    state = module.state_dict()
    for name, tensor in state.items():
        if name.endswith("running_var"):
            tensor.uniform_(0.5, 2.0, generator=generator)
        elif name.endswith(("running_mean", "bn.weight", "bn.bias")):
            tensor.normal_(0.0, 0.5, generator=generator)
    return {name: tensor.numpy() for name, tensor in state.items()}


@pytest.mark.parametrize("fold_bn", [False, True], ids=["plain", "fold_bn"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_torch_and_onnx_backends_agree(model: str, fold_bn: bool) -> None:
    build, inputs = MODELS[model]
    graph = build()
    module = to_torch(graph, seed=0).eval()
    weights = trained(module)
    session = ort.InferenceSession(
        emit_onnx(graph, weights, fold_bn=fold_bn).SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    for batch in (1, 3):
        x = inputs(batch)
        with torch.no_grad():
            expected = module(torch.from_numpy(x)).numpy()
        actual = session.run(None, {graph.inputs[0].name: x})[0]
        assert actual.shape == expected.shape
        assert np.abs(actual - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())
