"""Parity with torchvision for EfficientNet (B0-B7, V2-S/M/L), ConvNeXt (T/S/B/L), the Vision
Transformer (B/16, B/32, L/16), RegNet (X and Y, 400MF-3.2GF), Inception v3 and the Swin
Transformer (T/S/B): state_dict keys and shapes in order and parameter counts for every variant;
for one model per code path, torchvision's weights (random; batch norms calibrated; layer norms,
layer scales, the class token and Swin's relative position bias tables perturbed so that no block
is an identity) through the torch lowering (<= 1e-5 of the output scale) and through
`import-weights` -> `compile --weights` -> onnxruntime (<= 1e-4), at small inputs (ViT at
image_size 32, as its constructor allows; Swin at 64 x 64, where its first two stages pad and
shift their windows and the last two are one padded window each, unshifted)."""

from __future__ import annotations

from collections.abc import Callable
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


def _inception(aux: bool) -> Callable[[], torch.nn.Module]:
    return lambda: tv.inception_v3(aux_logits=aux, init_weights=True)


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
    **{
        f"regnet_{v}": Case(getattr(tv, f"regnet_{v}"), f"RegNet_{v.upper()}", {}, 32)
        for v in ("x_400mf", "x_800mf", "x_1_6gf", "x_3_2gf")
        + ("y_400mf", "y_800mf", "y_1_6gf", "y_3_2gf")
    },
    "inception_v3": Case(_inception(True), "Inception_V3", {}, 299),
    "inception_v3_no_aux": Case(_inception(False), "Inception3", {"aux": False}, 75),
    **{f"swin_{v}": Case(getattr(tv, f"swin_{v}"), f"Swin_{v.upper()}", {}, 64) for v in "tsb"},
    "vit_small": Case(
        lambda: tv.VisionTransformer(image_size=32, **SMALL_VIT),
        "VisionTransformer",
        SMALL_VIT,
        32,
    ),
}
# One model per code path: MBConv (B0), Fused-MBConv with eps 1e-3 (V2-S), ConvNeXt-T, a small
# ViT; the full-size ViT-B/16 and B7 only in the slow run (same code path, 86M/66M weights).
OUTPUT_CASES = [
    "efficientnet_b0",
    "efficientnet_v2_s",
    "convnext_tiny",
    "vit_small",
    "regnet_x_400mf",
    "regnet_y_400mf",
    "inception_v3_no_aux",
    "swin_t",
]
SLOW = ["vit_b_16", "efficientnet_b7", "inception_v3"]


@pytest.mark.parametrize("name", CASES)
def test_state_dict_and_parameter_count_equal_torchvision(
    stdlib_model: BuildModel, name: str
) -> None:
    case = CASES[name]
    try:
        with torch.device("meta"):
            reference = case.reference()
    except NotImplementedError:  # RegNet computes its widths with tensors: build it for real
        reference = case.reference()
    theirs = [(key, tuple(t.shape)) for key, t in reference.state_dict().items()]
    graph = stdlib_model(case.model, size=case.size, **case.arguments)
    ours = list(graph.state().items())
    assert ours == theirs
    assert graph.param_count == sum(p.numel() for p in reference.parameters())


PERTURBED = {"layer_scale", "class_token", "relative_position_bias_table"}


def perturbed(case: Case) -> tuple[torch.nn.Module, torch.Tensor, tuple[torch.Tensor, ...]]:
    """The reference with trained-looking weights, an input batch and its outputs."""
    torch.manual_seed(0)
    reference = case.reference()
    count = 2 + (8 if case.size <= 75 else 2)  # 8 images: deep 2 x 2 maps still give stable stats
    batch = torch.randn(count, 3, case.size, case.size, generator=torch.Generator().manual_seed(1))
    image, calibration = batch[:2], batch[2:]
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, tensor in reference.named_parameters():
            layer = reference.get_submodule(name.rpartition(".")[0]) if "." in name else None
            leaf = name.rpartition(".")[2]
            if leaf in PERTURBED or isinstance(layer, torch.nn.LayerNorm):
                tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator))
            if leaf == "layer_scale":  # torchvision starts it at 1e-6: the blocks would vanish
                tensor.add_(0.5)
            if not tensor.any():  # ViT's head starts at zero: its logits would be too
                tensor.normal_(0, 0.02, generator=generator)
    _calibrate_norms(reference, calibration)
    with torch.no_grad():
        return reference, image, _outputs(reference, image)


def _outputs(reference: torch.nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Inception's aux head runs only in training: in eval mode it is run on the hooked map."""
    aux = getattr(reference, "AuxLogits", None)
    if aux is None:
        return (reference(image),)
    seen: list[torch.Tensor] = []
    reference.Mixed_6e.register_forward_hook(lambda module, args, out: seen.append(out))
    return reference(image), aux(seen[0])


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max()) / max(1.0, float(np.abs(want).max()))


def torch_difference(
    graph: Graph,
    reference: torch.nn.Module,
    image: torch.Tensor,
    expected: tuple[torch.Tensor, ...],
) -> float:
    """max |ours - torchvision| / max(1, max |torchvision|) through the torch lowering, worst
    output."""
    module = to_torch(graph)
    module.load_state_dict(reference.state_dict(), strict=True)
    with torch.no_grad():
        got = module.eval()(image)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    return max(_relative(g.numpy(), e.numpy()) for g, e in zip(got, expected))


def onnx_difference(
    case: Case,
    reference: torch.nn.Module,
    image: torch.Tensor,
    expected: tuple[torch.Tensor, ...],
    folder: Path,
) -> float:
    """The same through `netlang import-weights` -> `netlang compile --weights` -> onnxruntime."""
    torch.save(reference.state_dict(), folder / "reference.pth")
    settings = [f"{k}={_literal(v)}" for k, v in {"size": case.size, **case.arguments}.items()]
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
    got = session.run(None, {session.get_inputs()[0].name: image.numpy()})
    assert len(got) == len(expected)
    return max(_relative(g, e.numpy()) for g, e in zip(got, expected))


def _literal(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _file_of(model: str) -> str:
    name = model.lower().replace("visiontransformer", "vit")
    stems = ("efficientnet", "convnext", "vit", "regnet", "inception", "squeezenet", "densenet")
    stems += ("shufflenet", "mobilenet", "swin")
    return next(f"{stem}.net" for stem in stems if stem in name)


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
