"""Layer patterns: exact names, prefixes, globs and ranges over top-level layers, in model order."""

from __future__ import annotations

import pytest

from netlang.train.transfer import Layers, TransferError

# ResNet-like names in model order (a parameterless relu "1" between bn1 and layer1).
NAMES = [
    "conv1",
    "bn1",
    "1",
    "layer1.0.conv1",
    "layer1.0.bn1",
    "layer1.1.conv1",
    "layer2.0.conv1",
    "layer2.0.downsample.0",
    "layer3.0.conv1",
    "layer4.0.conv1",
    "pool",
    "fc",
]
LAYERS = Layers(NAMES)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("fc", {"fc"}),
        ("layer1", {"layer1.0.conv1", "layer1.0.bn1", "layer1.1.conv1"}),  # a prefix
        ("layer1.0", {"layer1.0.conv1", "layer1.0.bn1"}),
        ("layer2.0.downsample.0", {"layer2.0.downsample.0"}),
        (
            "layer[1-2]*",
            {
                "layer1.0.conv1",
                "layer1.0.bn1",
                "layer1.1.conv1",
                "layer2.0.conv1",
                "layer2.0.downsample.0",
            },
        ),
        ("layer[34]", {"layer3.0.conv1", "layer4.0.conv1"}),  # a glob on the top-level prefix
        ("*.bn1", {"layer1.0.bn1"}),
        ("bn*", {"bn1"}),
        (
            "layer1..layer3",
            {
                "layer1.0.conv1",
                "layer1.0.bn1",
                "layer1.1.conv1",
                "layer2.0.conv1",
                "layer2.0.downsample.0",
                "layer3.0.conv1",
            },
        ),
        ("conv1..1", {"conv1", "bn1", "1"}),
        ("fc..fc", {"fc"}),
    ],
)
def test_a_pattern_names_these_layers(pattern: str, expected: set[str]) -> None:
    assert LAYERS.match([pattern], "freeze") == expected


def test_a_prefix_does_not_match_a_longer_name() -> None:
    assert Layers(["layer1.0", "layer10.0"]).match(["layer1"], "freeze") == {"layer1.0"}


def test_top_level_layers_keep_model_order() -> None:
    assert LAYERS.top == ["conv1", "bn1", "1", "layer1", "layer2", "layer3", "layer4", "pool", "fc"]


def test_several_patterns_add_up() -> None:
    assert LAYERS.match(["conv1", "fc"], "freeze") == {"conv1", "fc"}


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("fcc", r"train.freeze: 'fcc' names no layer of the model; did you mean `fc`"),
        ("layer9*", "'layer9\\*' names no layer"),
        ("layer1..layer9", "range 'layer1..layer9': 'layer9' is not a top-level layer"),
        ("layer1.0..layer3", "'layer1.0' is not a top-level layer"),
        ("layer3..layer1", "runs backwards: layer1 comes before layer3"),
    ],
)
def test_a_pattern_that_names_nothing_is_an_error(pattern: str, message: str) -> None:
    with pytest.raises(TransferError, match=message):
        LAYERS.match([pattern], "freeze")
