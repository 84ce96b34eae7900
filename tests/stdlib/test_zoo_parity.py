"""Parity with torchvision for the modern zoo (SqueezeNet, DenseNet, ShuffleNet V2, MobileNet
V2/V3): state_dict keys and shapes in order for every variant, and for one model per family
torchvision's weights (random, batch norms calibrated on a batch) through the torch lowering
(<= 1e-5 of the output scale) and through the emitted ONNX in onnxruntime (<= 1e-4), at a small
input size."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchvision.models as tv

from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from tests.stdlib.test_torchvision_parity import BuildModel, Case, _calibrate_norms

CASES = {
    "squeezenet1_0": Case(tv.squeezenet1_0, "SqueezeNet1_0", {}, 64),
    "squeezenet1_1": Case(tv.squeezenet1_1, "SqueezeNet1_1", {}, 64),
    "densenet121": Case(tv.densenet121, "DenseNet121", {}, 32),
    "densenet161": Case(tv.densenet161, "DenseNet161", {}, 32),
    "densenet169": Case(tv.densenet169, "DenseNet169", {}, 32),
    "densenet201": Case(tv.densenet201, "DenseNet201", {}, 32),
    "shufflenet_v2_x0_5": Case(tv.shufflenet_v2_x0_5, "ShuffleNetV2_x0_5", {}, 64),
    "shufflenet_v2_x1_0": Case(tv.shufflenet_v2_x1_0, "ShuffleNetV2_x1_0", {}, 64),
    "shufflenet_v2_x1_5": Case(tv.shufflenet_v2_x1_5, "ShuffleNetV2_x1_5", {}, 64),
    "shufflenet_v2_x2_0": Case(tv.shufflenet_v2_x2_0, "ShuffleNetV2_x2_0", {}, 64),
    "mobilenet_v2": Case(tv.mobilenet_v2, "MobileNetV2", {}, 64),
    "mobilenet_v3_large": Case(tv.mobilenet_v3_large, "MobileNetV3Large", {}, 64),
    "mobilenet_v3_small": Case(tv.mobilenet_v3_small, "MobileNetV3Small", {}, 64),
}
OUTPUT_CASES = [
    "squeezenet1_0",
    "squeezenet1_1",
    "densenet121",
    "shufflenet_v2_x1_0",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
]


def _graph(stdlib_model: BuildModel, case: Case):  # type: ignore[no-untyped-def]
    return stdlib_model(case.model, size=case.size, **case.arguments)


@pytest.mark.parametrize("name", CASES)
def test_state_dict_and_parameter_count_equal_torchvision(
    stdlib_model: BuildModel, name: str
) -> None:
    case = CASES[name]
    with torch.device("meta"):
        reference = case.reference()
    theirs = [(key, tuple(t.shape)) for key, t in reference.state_dict().items()]
    graph = _graph(stdlib_model, case)
    ours = list(graph.state().items())
    assert ours == theirs
    assert graph.param_count == sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("name", OUTPUT_CASES)
def test_torchvision_weights_give_the_same_outputs_in_torch_and_onnxruntime(
    stdlib_model: BuildModel, name: str
) -> None:
    case = CASES[name]
    torch.manual_seed(0)
    reference = case.reference()
    image, calibration = torch.randn(
        2, 2, 3, case.size, case.size, generator=torch.Generator().manual_seed(1)
    )
    _calibrate_norms(reference, calibration)
    with torch.no_grad():
        expected = reference(image)
    scale = max(1.0, float(expected.abs().max()))
    graph = _graph(stdlib_model, case)
    module = to_torch(graph)
    module.load_state_dict(reference.state_dict(), strict=True)
    with torch.no_grad():
        got = module.eval()(image)
    assert (got - expected).abs().max().item() <= 1e-5 * scale
    weights = {key: t.numpy() for key, t in reference.state_dict().items()}
    session = ort.InferenceSession(
        emit_onnx(graph, weights).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (onnx_out,) = session.run(None, {graph.inputs[0].name: image.numpy()})
    assert np.abs(onnx_out - expected.numpy()).max() <= 1e-4 * scale
