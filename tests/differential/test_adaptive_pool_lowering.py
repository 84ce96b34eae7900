"""Adaptive average pooling to any fixed size lowers to ONNX and matches
torch.nn.functional.adaptive_avg_pool*d: a multiple of the input's (VGG and AlexNet trunks on
small images end in a 1x1 map pooled to 7x7 / 6x6), an axis that shrinks beside one that grows,
and sizes whose bins overlap or differ in width (averaging matrices)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from netlang.backends.onnx_emit import emit_onnx
from netlang.semantics.builder import GraphBuilder
from netlang.ir import TensorType


@pytest.mark.parametrize(
    ("op", "spatial", "size"),
    [
        ("adaptive_avgpool2d", (1, 1), 7),
        ("adaptive_avgpool2d", (2, 3), [6, 6]),
        ("adaptive_avgpool2d", (4, 2), [2, 6]),  # H pools 4 -> 2 while W grows 2 -> 6
        ("adaptive_avgpool1d", (3,), 9),
        ("adaptive_avgpool2d", (10, 10), 3),  # overlapping bins of unequal width
        ("adaptive_avgpool2d", (7, 7), 3),  # once refused as NL4001 by the lowering
        ("adaptive_avgpool2d", (14, 14), 4),  # GoogLeNet's auxiliary heads at 224x224
        ("adaptive_avgpool2d", (5, 7), [3, 2]),
        ("adaptive_avgpool1d", (7,), 5),
    ],
    ids=[
        "1x1-to-7x7",
        "2x3-to-6x6",
        "shrink-and-grow",
        "1d-3-to-9",
        "10-to-3",
        "7-to-3",
        "14-to-4",
        "5x7-to-3x2",
        "1d-7-to-5",
    ],
)
def test_adaptive_avgpool_to_any_fixed_size_matches_torch(
    op: str, spatial: tuple[int, ...], size: int | list[int]
) -> None:
    builder = GraphBuilder("Pool")
    x = builder.input("x", TensorType("float32", ("N", 4, *spatial)))
    (y,) = builder.apply(op, [x], {"size": size}, "pool")
    model = emit_onnx(builder.finish({"y": y}))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(0).standard_normal((3, 4, *spatial)).astype(np.float32)
    pool = F.adaptive_avg_pool2d if op.endswith("2d") else F.adaptive_avg_pool1d
    expected = pool(torch.from_numpy(image), size).numpy()
    actual = session.run(None, {"x": image})[0]
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6)
