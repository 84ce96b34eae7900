"""Parity with torchvision. For every stdlib model torchvision also has, the graph's state_dict
keys and shapes equal torchvision's, in order (checked against models on the meta device, so even
VGG-19 is instant). For one model per code path, a torchvision state_dict loads into
`to_torch(graph)` with strict=True, the eval-mode outputs then equal torchvision's (max |diff|
<= 1e-5), and for a representative subset so do the emitted ONNX's through onnxruntime (<= 1e-4).
Batch norms are first calibrated on a random batch and given random affine weights, as in a trained
network: no normalisation is an identity in eval mode, and the logits keep a trained scale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchvision.models as tv

from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.ir import Graph

BuildModel = Callable[..., Graph]  # the `stdlib_model` fixture (conftest.py)

TORCH_TOLERANCE = 1e-5
ONNX_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Case:
    reference: Callable[[], torch.nn.Module]
    model: str
    arguments: dict[str, Any]
    size: int  # input H = W: small where the architecture allows, to keep the tests quick


def _googlenet(aux: bool) -> Callable[[], torch.nn.Module]:
    # A fresh torchvision GoogLeNet has transform_input=False (only its pretrained builder sets
    # it). Its own truncated-normal init keeps the float32 rounding well under the bounds.
    return lambda: tv.googlenet(aux_logits=aux, init_weights=True)


CASES = {
    "resnet18": Case(tv.resnet18, "ResNet18", {}, 64),
    "resnet34": Case(tv.resnet34, "ResNet34", {}, 64),
    "resnet50": Case(tv.resnet50, "ResNet50", {}, 64),
    "resnet101": Case(tv.resnet101, "ResNet101", {}, 64),
    "resnet152": Case(tv.resnet152, "ResNet152", {}, 64),
    "resnext50_32x4d": Case(tv.resnext50_32x4d, "ResNet50", {"groups": 32, "base_width": 4}, 64),
    "wide_resnet50_2": Case(tv.wide_resnet50_2, "ResNet50", {"base_width": 128}, 64),
    "resnet18_10_classes_grey": Case(
        lambda: _grey(tv.resnet18(num_classes=10)),
        "ResNet18",
        {"classes": 10, "in_channels": 1},
        64,
    ),
    "googlenet": Case(_googlenet(False), "GoogLeNet", {}, 64),
    "googlenet_aux": Case(_googlenet(True), "GoogLeNet", {"aux": True}, 64),
    "alexnet": Case(tv.alexnet, "AlexNet", {}, 224),
    # VGG's adaptive pool takes any input of 32 or more: 32 keeps the forward passes cheap.
    **{
        name: Case(getattr(tv, name), name.upper(), {}, 32)
        for name in (
            "vgg11",
            "vgg11_bn",
            "vgg13",
            "vgg13_bn",
            "vgg16",
            "vgg16_bn",
            "vgg19",
            "vgg19_bn",
        )
    },
}
# Outputs are compared for one model per code path; the key test above covers every model.
# Deeper ResNets and the other VGG configurations differ only in the repeat counts and
# configuration lists that the key test checks.
OUTPUT_CASES = [
    "resnet18",
    "resnet18_10_classes_grey",
    "resnet50",
    "googlenet",
    "googlenet_aux",
    "resnet34",
    "resnext50_32x4d",
    "alexnet",
    "vgg11",
    "vgg11_bn",
]
SLOW = {"resnet34", "resnext50_32x4d", "alexnet", "vgg11", "vgg11_bn"}


def _grey(model: torch.nn.Module) -> torch.nn.Module:
    model.conv1 = torch.nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)
    return model


@dataclass
class Twin:
    """A torchvision model with randomised weights, its netlang graph, an input and the outputs."""

    name: str
    graph: Graph
    state: dict[str, torch.Tensor]
    image: torch.Tensor
    expected: tuple[torch.Tensor, ...]


@pytest.mark.parametrize("name", CASES)
def test_state_dict_names_and_shapes_equal_torchvision_in_order(
    stdlib_model: BuildModel, name: str
) -> None:
    case = CASES[name]
    with torch.device("meta"):
        theirs = [(key, tuple(t.shape)) for key, t in case.reference().state_dict().items()]
    graph = stdlib_model(case.model, size=case.size, **case.arguments)
    ours = list(graph.state().items())
    assert ours == theirs


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
        for name in OUTPUT_CASES
    ],
)
def twin(request: pytest.FixtureRequest, stdlib_model: BuildModel) -> Twin:
    """Module-scoped, so pytest runs every test of one model before building the next."""
    case = CASES[request.param]
    torch.manual_seed(0)
    reference = case.reference()
    graph = stdlib_model(case.model, size=case.size, **case.arguments)
    channels = graph.inputs[0].type.shape[1]
    image, calibration = torch.randn(
        2, 2, channels, case.size, case.size, generator=torch.Generator().manual_seed(1)
    )
    _calibrate_norms(reference, calibration)
    with torch.no_grad():
        expected = (
            _googlenet_outputs(reference, image)
            if case.arguments.get("aux")
            else (reference(image),)
        )
    return Twin(request.param, graph, reference.state_dict(), image, expected)


def _calibrate_norms(reference: torch.nn.Module, batch: torch.Tensor) -> None:
    """Random affine weights, running statistics of one batch (momentum 1); leaves eval mode."""
    norms = [m for m in reference.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for norm in norms:
            norm.momentum = 1.0
            norm.weight.copy_(1 + 0.1 * torch.randn(norm.weight.shape, generator=generator))
            norm.bias.copy_(0.1 * torch.randn(norm.bias.shape, generator=generator))
        reference.train()(batch)
    reference.eval()


def _googlenet_outputs(reference: torch.nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(logits, aux2, aux1) as torchvision's GoogLeNetOutputs orders them; in eval mode its
    forward returns only the logits, so the aux heads are run on the hooked feature maps."""
    seen: dict[str, torch.Tensor] = {}
    for name in ("inception4a", "inception4d"):
        getattr(reference, name).register_forward_hook(
            lambda module, args, out, name=name: seen.__setitem__(name, out)
        )
    logits = reference(image)
    return logits, reference.aux2(seen["inception4d"]), reference.aux1(seen["inception4a"])


def test_torchvision_weights_load_strictly_and_give_the_same_outputs(twin: Twin) -> None:
    module = to_torch(twin.graph)
    assert list(module.state_dict()) == list(twin.state)
    module.load_state_dict(twin.state, strict=True)
    module.eval()
    with torch.no_grad():
        outputs = module(twin.image)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert len(outputs) == len(twin.expected)
    for got, want in zip(outputs, twin.expected):
        assert got.shape == want.shape
        assert (got - want).abs().max().item() <= TORCH_TOLERANCE


def test_onnx_with_torchvision_weights_gives_the_same_outputs(twin: Twin) -> None:
    """Within ONNX_TOLERANCE of the output scale: with random weights a ResNet-50's logits reach
    ~8, where float32 rounding alone (torch vs float64) is ~2e-4."""
    weights = {name: tensor.numpy() for name, tensor in twin.state.items()}
    model = emit_onnx(twin.graph, weights)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {twin.graph.inputs[0].name: twin.image.numpy()})
    assert len(outputs) == len(twin.expected)
    for got, want in zip(outputs, twin.expected):
        scale = max(1.0, float(np.abs(want.numpy()).max()))
        assert np.abs(got - want.numpy()).max() <= ONNX_TOLERANCE * scale
