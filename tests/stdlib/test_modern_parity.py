"""Parity with torchvision for EfficientNet (B0-B7, V2-S/M/L), ConvNeXt (T/S/B/L) and the Vision
Transformer (B/16, B/32, L/16): state_dict keys and shapes in order and parameter counts for every
variant; for one model per code path, torchvision's weights (random; batch norms calibrated, layer
norms, layer scales and the class token perturbed so that no block is an identity) through the
torch lowering (<= 1e-5 of the output scale) and through `import-weights` -> `compile --weights`
-> onnxruntime (<= 1e-4), at small inputs (ViT at image_size 32, as its constructor allows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchvision.models as tv
from click.testing import CliRunner

from netlang.backends.torch_module import to_torch
from netlang.cli import main
from netlang.ir import Graph
from tests.stdlib.test_torchvision_parity import BuildModel, Case, _calibrate_norms

SMALL_VIT = {"patch_size": 8, "num_layers": 2, "num_heads": 4, "hidden_dim": 64, "mlp_dim": 128}
CASES = {
    **{
        f"efficientnet_b{i}": Case(getattr(tv, f"efficientnet_b{i}"), f"EfficientNetB{i}", {}, 64)
        for i in range(8)
    },
    **{
        f"efficientnet_v2_{v}": Case(
            getattr(tv, f"efficientnet_v2_{v}"), f"EfficientNet_V2_{v.upper()}", {}, 64
        )
        for v in "sml"
    },
    **{
        f"convnext_{v}": Case(getattr(tv, f"convnext_{v}"), f"ConvNeXt{v.title()}", {}, 32)
        for v in ("tiny", "small", "base", "large")
    },
    **{
        f"vit_{v}": Case(
            lambda v=v: getattr(tv, f"vit_{v}")(image_size=32), f"ViT_{v.upper()}", {}, 32
        )
        for v in ("b_16", "b_32", "l_16")
    },
    "vit_small": Case(
        lambda: tv.VisionTransformer(image_size=32, **SMALL_VIT),
        "VisionTransformer",
        SMALL_VIT,
        32,
    ),
}
# One model per code path: MBConv (B0), Fused-MBConv with eps 1e-3 (V2-S), ConvNeXt-T, a small
# ViT; the full-size ViT-B/16 and B7 only in the slow run (same code path, 86M/66M weights).
OUTPUT_CASES = ["efficientnet_b0", "efficientnet_v2_s", "convnext_tiny", "vit_small"]
SLOW = ["vit_b_16", "efficientnet_b7"]


@pytest.mark.parametrize("name", CASES)
def test_state_dict_and_parameter_count_equal_torchvision(
    stdlib_model: BuildModel, name: str
) -> None:
    case = CASES[name]
    with torch.device("meta"):
        reference = case.reference()
    theirs = [(key, tuple(t.shape)) for key, t in reference.state_dict().items()]
    graph = stdlib_model(case.model, size=case.size, **case.arguments)
    ours = [
        (node.key(local), shape)
        for node in graph.nodes
        for local, shape in {**node.params, **node.buffers}.items()
    ]
    assert ours == theirs
    assert graph.param_count == sum(p.numel() for p in reference.parameters())


def perturbed(case: Case) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The reference with trained-looking weights, an input batch and its outputs."""
    torch.manual_seed(0)
    reference = case.reference()
    batch = torch.randn(10, 3, case.size, case.size, generator=torch.Generator().manual_seed(1))
    image, calibration = batch[:2], batch[2:]  # 8 images: deep 2 x 2 maps still give stable stats
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, tensor in reference.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in {"layer_scale", "class_token"} or ".ln" in name or "norm" in name:
                tensor.copy_(tensor + 0.1 * torch.randn(tensor.shape, generator=generator))
            if leaf == "layer_scale":  # torchvision starts it at 1e-6: the blocks would vanish
                tensor.add_(0.5)
    _calibrate_norms(reference, calibration)
    with torch.no_grad():
        return reference, image, reference(image)


def torch_difference(
    graph: Graph, reference: torch.nn.Module, image: torch.Tensor, expected: torch.Tensor
) -> float:
    """max |ours - torchvision| / max(1, max |torchvision|) through the torch lowering."""
    with torch.no_grad():
        module = to_torch(graph)
        module.load_state_dict(reference.state_dict(), strict=True)
        got = module.eval()(image)
    return (got - expected).abs().max().item() / max(1.0, expected.abs().max().item())


def onnx_difference(
    case: Case,
    reference: torch.nn.Module,
    image: torch.Tensor,
    expected_tensor: torch.Tensor,
    folder: Path,
) -> float:
    """The same through `netlang import-weights` -> `netlang compile --weights` -> onnxruntime."""
    torch.save(reference.state_dict(), folder / "reference.pth")
    settings = [f"{k}={v}" for k, v in {"size": case.size, **case.arguments}.items()]
    flags = [part for setting in settings for part in ("--set", setting)]
    run = CliRunner().invoke
    imported = run(
        main,
        [
            "import-weights",
            str(folder / "reference.pth"),
            "--into",
            f"stdlib:{case.model}",
            *flags,
            "-o",
            str(folder / "w.safetensors"),
        ],
    )
    assert imported.exit_code == 0, imported.output
    source = Path(__file__).resolve().parents[2] / "stdlib" / _file_of(case.model)
    compiled = run(
        main,
        [
            "compile",
            str(source),
            "--model",
            case.model,
            *flags,
            "--weights",
            str(folder / "w.safetensors"),
            "-o",
            str(folder / "m.onnx"),
        ],
    )
    assert compiled.exit_code == 0, compiled.output
    session = ort.InferenceSession(str(folder / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: image.numpy()})
    expected = expected_tensor.numpy()
    return float(np.abs(got - expected).max()) / max(1.0, float(np.abs(expected).max()))


def _file_of(model: str) -> str:
    for stem in ("efficientnet", "convnext", "vit"):
        if stem in model.lower().replace("visiontransformer", "vit"):
            return f"{stem}.net"
    raise AssertionError(model)


@pytest.mark.parametrize(
    "name",
    [*OUTPUT_CASES, *(pytest.param(n, marks=pytest.mark.slow) for n in SLOW)],
)
def test_torchvision_weights_give_the_same_outputs_in_torch_and_onnxruntime(
    stdlib_model: BuildModel, name: str, tmp_path: Path
) -> None:
    case = CASES[name]
    reference, image, expected = perturbed(case)
    graph = stdlib_model(case.model, size=case.size, **case.arguments)
    assert torch_difference(graph, reference, image, expected) <= 1e-5
    assert onnx_difference(case, reference, image, expected, tmp_path) <= 1e-4
