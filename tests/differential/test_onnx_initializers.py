"""The initializers emit_onnx writes in place are exactly what onnx's own numpy_helper.from_array
makes of the weights (float32, or float16 under fp16), whatever the memory layout or byte
order of the arrays handed in, and read back to the same values."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import numpy_helper

from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.weights import init_weights
from netlang.semantics.builder import GraphBuilder
from netlang.ir import Graph, TensorType


def conv_bn_linear() -> Graph:
    b = GraphBuilder("ConvBnLinear")
    x = b.input("image", TensorType("float32", ("N", 3, 6, 6)))
    (h,) = b.apply("conv2d", [x], {"channels": 4, "kernel": 3}, "conv")
    (h,) = b.apply("batchnorm2d", [h], {}, "bn")
    (h,) = b.apply("flatten", [h], {}, "flat")
    (h,) = b.apply("linear", [h], {"features": 5}, "fc")
    return b.finish({"logits": h})


@pytest.mark.parametrize("fp16", [False, True], ids=["float32", "float16"])
def test_initializers_equal_numpy_helper_from_array(fp16: bool) -> None:
    graph = conv_bn_linear()
    weights = init_weights(graph, seed=3)
    weights["bn.running_mean"] = np.random.default_rng(0).standard_normal(4).astype(np.float32)
    model = emit_onnx(graph, weights, fp16=fp16)
    stored = np.float16 if fp16 else np.float32
    for tensor in model.graph.initializer:
        reference = numpy_helper.from_array(weights[tensor.name].astype(stored), tensor.name)
        assert tensor == reference, tensor.name
        np.testing.assert_array_equal(
            numpy_helper.to_array(tensor), weights[tensor.name].astype(stored)
        )


def test_transposed_and_big_endian_weights_are_stored_as_their_values() -> None:
    graph = conv_bn_linear()
    weights = init_weights(graph, seed=1)
    native = dict(weights)
    weights["fc.weight"] = np.ascontiguousarray(weights["fc.weight"].T).T  # Fortran order
    weights["conv.weight"] = weights["conv.weight"].astype(">f4")  # big-endian
    weights["bn.running_var"] = weights["bn.running_var"].astype(np.float64)
    model = emit_onnx(graph, weights)
    for tensor in model.graph.initializer:
        assert tensor == numpy_helper.from_array(native[tensor.name], tensor.name), tensor.name
