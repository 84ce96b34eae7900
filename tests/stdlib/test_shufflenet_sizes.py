"""ShuffleNet V2's channel shuffle reshapes by the input's own sizes (`dim(x, 2)`), so the stdlib
network is not tied to one input size: it compiles at several `size`s, and its blocks under a
symbolic input [N, 3, H, W] give one ONNX file that onnxruntime runs at any size, equal to
torchvision's shufflenet_v2_x0_5 with the same weights at each (and so does the torch module)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchvision.models as tv

import netlang
from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.ir import Graph

ANY_SIZE = """
import "shufflenet"

model AnySize(widths: list = [24, 48, 96, 192, 1024], classes: int = 1000) {
    input image: float32[N, 3, H, W]
    logits = image
        -> conv1: { conv2d(widths[0], 3, stride=2, padding=1, bias=false) -> batchnorm2d -> relu }
        -> maxpool: maxpool2d(3, stride=2, padding=1)
        -> stage2: ShuffleStage(widths[1], 4)
        -> stage3: ShuffleStage(widths[2], 8)
        -> stage4: ShuffleStage(widths[3], 4)
        -> conv5: { conv2d(widths[4], 1, bias=false) -> batchnorm2d -> relu }
        -> global_avgpool
        -> fc: linear(classes)
    output logits
}
"""


@pytest.mark.parametrize("size", [64, 96])
def test_the_stdlib_network_compiles_at_more_than_one_size(
    stdlib_model: Callable[..., Graph], size: int
) -> None:
    graph = stdlib_model("ShuffleNetV2_x0_5", size=size)
    assert graph.param_count == 1_366_792
    assert graph.outputs[0].type.shape == ("N", 1000)


def test_one_onnx_file_runs_at_any_size_as_torchvision_does() -> None:
    graph = netlang.load(ANY_SIZE).model("AnySize")
    assert graph.inputs[0].type.shape == ("N", 3, "H", "W")
    torch.manual_seed(0)
    reference = tv.shufflenet_v2_x0_5().eval()
    with torch.no_grad():  # batch-norm statistics off their identity start, so they matter
        for name, buffer in reference.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 1.5)
    state = reference.state_dict()
    module = to_torch(graph).eval()
    module.load_state_dict(state, strict=True)
    weights = {key: t.numpy() for key, t in state.items()}
    session = ort.InferenceSession(
        emit_onnx(graph, weights).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    for height, width in ((64, 64), (96, 80)):
        image = torch.randn(2, 3, height, width)
        with torch.no_grad():
            expected = reference(image)
            ours = module(image)
        scale = max(1.0, float(expected.abs().max()))
        assert float((ours - expected).abs().max()) <= 1e-5 * scale
        (got,) = session.run(None, {"image": image.numpy()})
        assert float(np.abs(got - expected.numpy()).max()) <= 1e-4 * scale
