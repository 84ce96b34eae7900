"""ONNX image classifiers built with onnx.helper for the runtime tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

H, W = 4, 6
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
CLASSES = ["ant", "bee", "cow", "doe", "elk"]
WEIGHT = np.random.default_rng(0).standard_normal((3 * H * W, len(CLASSES))).astype(np.float32)


def save_image_classifier(
    path: Path, *, softmax: bool = False, metadata: bool = True, channels: int = 3
) -> Path:
    """image FP32 [N, channels, H, W] -> Flatten -> MatMul -> logits (or Softmax
    probabilities)."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, H, W])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", len(CLASSES)])
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["logits" if softmax else "scores"]),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], axis=1))
    graph = helper.make_graph(
        nodes, "img", [x], [y], [numpy_helper.from_array(WEIGHT[: channels * H * W], "W")]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    if metadata:
        preprocess = {
            "size": [H, W],
            "channels": channels,
            "mean": MEAN[:channels],
            "std": STD[:channels],
        }
        helper.set_model_props(
            model,
            {
                "netlang.classes": json.dumps(CLASSES),
                "netlang.preprocess": json.dumps(preprocess),
                "netlang.model": "Tiny",
                "netlang.version": "0.1.0",
            },
        )
    onnx.save(model, str(path))
    return path


def save_three_output_model(path: Path) -> Path:
    """image FP32 [N, 3, H, W] -> three outputs, as an autoencoder with a head has: `recon`
    (Sigmoid, image-shaped), `code` (MatMul, [N, 4]) and `planes` (Reshape, [N, 2, 36])."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, H, W])
    outputs = [
        helper.make_tensor_value_info("recon", TensorProto.FLOAT, ["N", 3, H, W]),
        helper.make_tensor_value_info("code", TensorProto.FLOAT, ["N", 4]),
        helper.make_tensor_value_info("planes", TensorProto.FLOAT, ["N", 2, 3 * H * W // 2]),
    ]
    nodes = [
        helper.make_node("Sigmoid", ["image"], ["recon"]),
        helper.make_node("Flatten", ["image"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["code"]),
        helper.make_node("Reshape", ["flat", "planes_shape"], ["planes"]),
    ]
    weights = [
        numpy_helper.from_array(WEIGHT[:, :4].copy(), "W"),
        numpy_helper.from_array(np.array([-1, 2, 3 * H * W // 2], np.int64), "planes_shape"),
    ]
    graph = helper.make_graph(nodes, "three", [x], outputs, weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    onnx.save(model, str(path))
    return path
