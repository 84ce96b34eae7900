"""The standard library compiles: every file passes `check` (its models' own `test` blocks
included), the parameter counts equal torchvision's published ones, `import "resnet"` finds the
packaged files, and `netlang summary` prints the counts. No torch needed."""

from __future__ import annotations

from collections.abc import Callable

from pathlib import Path

import pytest
from click.testing import CliRunner

import netlang
from netlang.cli import main
from netlang.diagnostics import Severity
from netlang.ir import Graph
from netlang.semantics.loader import stdlib_names

BuildModel = Callable[..., Graph]  # the `stdlib_model` fixture (conftest.py)

FILES = [
    "alexnet",
    "autoencoder",
    "convnext",
    "densenet",
    "efficientnet",
    "googlenet",
    "inception",
    "lenet",
    "mlp",
    "mobilenet",
    "regnet",
    "resnet",
    "rnn",
    "shufflenet",
    "squeezenet",
    "swin",
    "transformer",
    "unet",
    "vgg",
    "vit",
    "yolo",
]

# Parameter counts from torchvision's weight metadata (`_docs["num_params"]`) and model builders.
TORCHVISION_PARAMS = [
    ("ResNet18", {}, 11_689_512),
    ("ResNet34", {}, 21_797_672),
    ("ResNet50", {}, 25_557_032),
    ("ResNet101", {}, 44_549_160),
    ("ResNet152", {}, 60_192_808),
    ("ResNet50", {"groups": 32, "base_width": 4}, 25_028_904),  # resnext50_32x4d
    ("ResNet50", {"base_width": 128}, 68_883_240),  # wide_resnet50_2
    ("VGG11", {}, 132_863_336),
    ("VGG11_BN", {}, 132_868_840),
    ("VGG13", {}, 133_047_848),
    ("VGG13_BN", {}, 133_053_736),
    ("VGG16", {}, 138_357_544),
    ("VGG16_BN", {}, 138_365_992),
    ("VGG19", {}, 143_667_240),
    ("VGG19_BN", {}, 143_678_248),
    ("AlexNet", {}, 61_100_840),
    ("GoogLeNet", {}, 6_624_904),
    ("GoogLeNet", {"aux": True}, 13_004_888),  # torchvision's googlenet(aux_logits=True)
]


def test_every_stdlib_file_is_listed() -> None:
    assert stdlib_names() == FILES


@pytest.mark.parametrize("name", FILES)
def test_stdlib_file_passes_check_with_its_tests(name: str) -> None:
    diagnostics = netlang.load(_path(name)).check()
    assert [d for d in diagnostics if d.severity is not Severity.NOTE] == []


@pytest.mark.parametrize("name", FILES)
def test_stdlib_file_opens_with_a_header_citing_paper_input_and_parameters(name: str) -> None:
    text = open(_path(name), encoding="utf-8").read()
    header = text[: text.index("\n\n")]
    assert all(line.startswith("#") for line in header.splitlines())
    assert "input" in header.lower() and "parameters" in header.lower()
    assert any(year in header for year in ("19", "20"))  # the paper's year


@pytest.mark.parametrize(("model", "arguments", "count"), TORCHVISION_PARAMS)
def test_parameter_count_equals_torchvision(
    stdlib_model: BuildModel, model: str, arguments: dict[str, object], count: int
) -> None:
    assert stdlib_model(model, **arguments).param_count == count


@pytest.mark.parametrize(
    ("model", "count"),
    [
        ("LeNet5", 61_706),
        ("LeNet5Modern", 61_706),  # the paper's count, simplified C3 (see header)
        ("AlexNet2012", 60_965_224),  # Krizhevsky 2012, two towers
        ("UNetPaper", 31_030_658),  # Ronneberger 2015 widths, padded; counted by hand
        ("YOLOv1", 271_703_550),  # Redmon 2016, Figure 3; counted by hand
    ],
)
def test_paper_models_have_the_papers_parameter_count(
    stdlib_model: BuildModel, model: str, count: int
) -> None:
    assert stdlib_model(model).param_count == count


def test_classes_and_input_channels_reshape_the_first_and_last_layers(
    stdlib_model: BuildModel,
) -> None:
    graph = stdlib_model("ResNet18", classes=10, in_channels=1, size=64)
    params = graph.parameters()
    assert params["conv1.weight"] == (64, 1, 7, 7)
    assert params["fc.weight"] == (10, 512)
    assert graph.outputs[0].type.shape == ("N", 10)


def test_user_file_imports_the_packaged_resnet_by_name() -> None:
    program = netlang.load(
        'import "resnet"\n'
        "model Small(classes: int = 10) {\n"
        "    input image: float32[N, 3, 32, 32]\n"
        "    logits = image\n"
        '        -> body: ResNetStage("bottleneck", 16, 2, stride=2)\n'
        "        -> global_avgpool -> fc: linear(classes)\n"
        "    output logits\n"
        "}\n"
    )
    graph = program.model("Small")
    assert graph.outputs[0].type.shape == ("N", 10)
    assert graph.parameters()["body.0.downsample.0.weight"] == (64, 3, 1, 1)


def test_summary_command_prints_the_resnet50_parameter_count() -> None:
    result = CliRunner().invoke(main, ["summary", _path("resnet"), "--model", "ResNet50"])
    assert result.exit_code == 0, result.output
    assert "25,557,032" in result.output


def _path(name: str) -> str:
    return str(Path(__file__).resolve().parents[2] / "stdlib" / f"{name}.net")
