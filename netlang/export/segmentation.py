"""The segmentation head in the exported graph: an ONNX model whose first output is per-pixel
class scores [N, C, H, W] -> the same model also returning `mask` int64 [N, H, W], the best
class of each pixel, so that a runtime gets the mask without post-processing. No torch here."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

MASK = "mask"


def add_mask_output(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` (changed in place, returned) with a `mask` output (ArgMax over the class axis)
    after its score output."""
    scores = model.graph.output[0]
    model.graph.node.append(
        helper.make_node("ArgMax", [scores.name], [MASK], name="segment/mask", axis=1, keepdims=0)
    )
    dims = [d.dim_param or d.dim_value for d in scores.type.tensor_type.shape.dim]
    model.graph.output.append(
        helper.make_tensor_value_info(MASK, TensorProto.INT64, [dims[0], *dims[2:]])
    )
    return model
