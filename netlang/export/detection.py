"""Box decoding and non-maximum suppression in the exported graph: an ONNX model whose first
output is a YOLOv1 grid [N, S, S, 5B + C] -> the same model ending in final detections, so that
any ONNX runtime returns boxes without netlang.

Outputs (one row per detection over the whole batch, ordered by image, then class, then score as
NonMaxSuppression returns them): `boxes` float32 [K, 4] (x1, y1, x2, y2 in input pixels),
`scores` float32 [K], `classes` int64 [K], `batch_index` int64 [K] (which image). The decoding is
`netlang.tasks.yolo.decode`'s, written with ONNX ops (the differential tests hold the two
together); each box takes its cell's best class, and NonMaxSuppression runs per class with the
score floor, IoU threshold and per-class cap of the metadata. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUTPUTS = ("boxes", "scores", "classes", "batch_index")


@dataclass(frozen=True)
class BoxDecoding:
    """The grid's layout and the suppression settings, as stored in the model's metadata."""

    cells: int
    boxes: int
    classes: int
    image: tuple[int, int]  # (height, width) of the input
    score: float = 0.05
    iou: float = 0.5
    per_class: int = 20

    def to_json(self) -> dict[str, object]:
        return {
            "decoder": "yolov1",
            "cells": self.cells,
            "boxes": self.boxes,
            "classes": self.classes,
            "image": list(self.image),
            "score_threshold": self.score,
            "iou_threshold": self.iou,
            "max_per_class": self.per_class,
        }


def add_box_decoding(model: onnx.ModelProto, decoding: BoxDecoding) -> onnx.ModelProto:
    """`model` (changed in place, returned) with its grid output replaced by the named detection
    outputs. The decoder's constants are Constant nodes, so the model's initializers stay the
    weights alone (netlang.backends.onnx_write streams those)."""
    graph = model.graph
    grid = graph.output[0].name
    nodes, constants = _decode_nodes(grid, decoding, "detect/")
    graph.node.extend(
        [helper.make_node("Constant", [], [c.name], name=c.name, value=c) for c in constants]
        + nodes
    )
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["K", 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["K"]),
            helper.make_tensor_value_info("classes", TensorProto.INT64, ["K"]),
            helper.make_tensor_value_info("batch_index", TensorProto.INT64, ["K"]),
        ]
    )
    return model


def _decode_nodes(
    grid: str, d: BoxDecoding, p: str
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The decoding and suppression nodes after the value `grid`; names start with `p`."""
    s, b = d.cells, d.boxes
    height, width = d.image
    steps = np.arange(s, dtype=np.float32)
    constants = {
        "box_shape": np.array([-1, s, s, b, 5], np.int64),
        "cols": steps.reshape(1, 1, s, 1),
        "rows": steps.reshape(1, s, 1, 1),
        "cell_w": np.array(width / s, np.float32),
        "cell_h": np.array(height / s, np.float32),
        "width": np.array(width, np.float32),
        "height": np.array(height, np.float32),
        "half": np.array(0.5, np.float32),
        "zero": np.array(0.0, np.float32),
        "one": np.array(1.0, np.float32),
        "limit": np.array([width, height, width, height], np.float32),
        "boxes_flat": np.array([0, -1, 4], np.int64),
        "scores_flat": np.array([0, -1], np.int64),
        "start": np.array([0], np.int64),
        "box_end": np.array([5 * b], np.int64),
        "class_end": np.array([5 * b + d.classes], np.int64),
        "last": np.array([-1], np.int64),
        "depth": np.array(d.classes, np.int64),
        "one_hot": np.array([0.0, 1.0], np.float32),
        "expand": np.array([1, 1, 1, b], np.int64),
        "max_out": np.array([d.per_class], np.int64),
        "iou": np.array([d.iou], np.float32),
        "floor": np.array([d.score], np.float32),
        "image_and_box": np.array([0, 2], np.int64),
        **{f"i{k}": np.array(k, np.int64) for k in range(5)},
    }
    c = {name: p + name for name in constants}
    v = lambda name: p + name  # noqa: E731 - value names inside the decoder

    def node(op: str, inputs: list[str], output: str, **attrs: object) -> onnx.NodeProto:
        name = output if output in OUTPUTS else v(output)
        return helper.make_node(op, inputs, [name], name=p + output, **attrs)

    def part(index: int, output: str) -> onnx.NodeProto:
        return node("Gather", [v("pred"), c[f"i{index}"]], output, axis=4)

    nodes = [
        # [N, S, S, B, (x, y, sqrt w, sqrt h, confidence)] and the class scores [N, S, S, C]
        node("Slice", [grid, c["start"], c["box_end"], c["last"]], "box_part"),
        node("Reshape", [v("box_part"), c["box_shape"]], "pred"),
        node("Slice", [grid, c["box_end"], c["class_end"], c["last"]], "class_part"),
        *(part(k, name) for k, name in enumerate(("px", "py", "pw", "ph", "conf"))),
        # centres and sizes in pixels: (col + x) * W / S, (row + y) * H / S, w^2 W, h^2 H
        node("Add", [v("px"), c["cols"]], "gx"),
        node("Mul", [v("gx"), c["cell_w"]], "cx"),
        node("Add", [v("py"), c["rows"]], "gy"),
        node("Mul", [v("gy"), c["cell_h"]], "cy"),
        node("Mul", [v("pw"), v("pw")], "w2"),
        node("Mul", [v("w2"), c["width"]], "w"),
        node("Mul", [v("ph"), v("ph")], "h2"),
        node("Mul", [v("h2"), c["height"]], "h"),
        node("Mul", [v("w"), c["half"]], "half_w"),
        node("Mul", [v("h"), c["half"]], "half_h"),
        node("Sub", [v("cx"), v("half_w")], "x1"),
        node("Sub", [v("cy"), v("half_h")], "y1"),
        node("Add", [v("cx"), v("half_w")], "x2"),
        node("Add", [v("cy"), v("half_h")], "y2"),
        *(node("Unsqueeze", [v(k), c["last"]], k + "_") for k in ("x1", "y1", "x2", "y2")),
        node("Concat", [v("x1_"), v("y1_"), v("x2_"), v("y2_")], "corners", axis=-1),
        node("Max", [v("corners"), c["zero"]], "above"),
        node("Min", [v("above"), c["limit"]], "clipped"),
        node("Reshape", [v("clipped"), c["boxes_flat"]], "all_boxes"),
        # score = confidence x the cell's best class score, in [0, 1]; the class is the best's
        node("ReduceMax", [v("class_part"), c["last"]], "best", keepdims=1),
        node("ArgMax", [v("class_part")], "best_class", axis=-1, keepdims=1),
        node("Mul", [v("conf"), v("best")], "raw_score"),
        node("Clip", [v("raw_score"), c["zero"], c["one"]], "score"),
        node("Reshape", [v("score"), c["scores_flat"]], "all_scores"),
        node("Expand", [v("best_class"), c["expand"]], "box_class"),
        node("Reshape", [v("box_class"), c["scores_flat"]], "all_classes"),
        # NonMaxSuppression per class: scores [N, C, K], zero outside each box's class
        node("OneHot", [v("all_classes"), c["depth"], c["one_hot"]], "class_mask", axis=-1),
        node("Unsqueeze", [v("all_scores"), c["last"]], "score_column"),
        node("Mul", [v("class_mask"), v("score_column")], "class_scores_kc"),
        node("Transpose", [v("class_scores_kc")], "class_scores", perm=[0, 2, 1]),
        node(
            "NonMaxSuppression",
            [v("all_boxes"), v("class_scores"), c["max_out"], c["iou"], c["floor"]],
            "selected",
        ),
        node("Gather", [v("selected"), c["image_and_box"]], "image_box", axis=1),
        node("GatherND", [v("all_boxes"), v("image_box")], "boxes"),
        node("GatherND", [v("class_scores"), v("selected")], "scores"),
        node("Gather", [v("selected"), c["i1"]], "classes", axis=1),
        node("Gather", [v("selected"), c["i0"]], "batch_index", axis=1),
    ]
    return nodes, [numpy_helper.from_array(value, c[k]) for k, value in constants.items()]
