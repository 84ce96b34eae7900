"""Small ONNX models built with onnx.helper for the serving tests, plus numpy references."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from netlang.data.tokenize import WordTokenizer

IR_VERSION = 10  # onnxruntime 1.31 rejects onnx 1.23's default of 14
OPSET = [helper.make_opsetid("", 17)]
RNG = np.random.default_rng(0)
W1 = RNG.standard_normal((8, 16)).astype(np.float32)
B1 = RNG.standard_normal(16).astype(np.float32)
W2 = RNG.standard_normal((16, 3)).astype(np.float32)
B2 = RNG.standard_normal(3).astype(np.float32)
CLASSES = ["cat", "dog", "emu"]


def classifier_reference(x: np.ndarray) -> np.ndarray:
    """The classifier by hand: Gemm -> Relu -> Gemm, in float64."""
    h = np.maximum(x.astype(np.float64) @ W1 + B1, 0.0)
    return h @ W2 + B2


def save_classifier(path: Path) -> Path:
    """input FP32 [N, 8] -> logits FP32 [N, 3], with netlang.classes metadata."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 8])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])
    nodes = [
        helper.make_node("Gemm", ["input", "W1", "B1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "W2", "B2"], ["logits"]),
    ]
    weights = [
        numpy_helper.from_array(a, n) for n, a in (("W1", W1), ("B1", B1), ("W2", W2), ("B2", B2))
    ]
    graph = helper.make_graph(nodes, "clf", [x], [y], weights)
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=IR_VERSION)
    helper.set_model_props(model, {"netlang.classes": json.dumps(CLASSES), "netlang.model": "Clf"})
    onnx.save(model, str(path))
    return path


def save_mixed(path: Path) -> Path:
    """a FP32 [N, 3], b INT64 [N, 3] -> total = a + b FP32, neg = -b INT64, flag = b > 0 BOOL."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 3])
    b = helper.make_tensor_value_info("b", TensorProto.INT64, ["N", 3])
    outputs = [
        helper.make_tensor_value_info("total", TensorProto.FLOAT, ["N", 3]),
        helper.make_tensor_value_info("neg", TensorProto.INT64, ["N", 3]),
        helper.make_tensor_value_info("flag", TensorProto.BOOL, ["N", 3]),
    ]
    zero = numpy_helper.from_array(np.zeros((), np.int64), "zero")
    nodes = [
        helper.make_node("Cast", ["b"], ["bf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["a", "bf"], ["total"]),
        helper.make_node("Neg", ["b"], ["neg"]),
        helper.make_node("Greater", ["b", "zero"], ["flag"]),
    ]
    graph = helper.make_graph(nodes, "mixed", [a, b], outputs, [zero])
    onnx.save(helper.make_model(graph, opset_imports=OPSET, ir_version=IR_VERSION), str(path))
    return path


def save_fixed(path: Path) -> Path:
    """x FP32 [2, "L"] -> y = relu(x): a fixed batch dim and a symbolic inner one."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, "L"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, "L"])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "fixed", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=OPSET, ir_version=IR_VERSION), str(path))
    return path


TEXT_LENGTH = 6
TEXT_CORPUS = ["free entry win cash now", "win a prize", "see you at lunch", "ok see you"]


def text_tokenizer() -> WordTokenizer:
    """The tokenizer the text model carries: fitted on TEXT_CORPUS, TEXT_LENGTH ids a row."""
    return WordTokenizer.fit(TEXT_CORPUS, length=TEXT_LENGTH, vocab=50, min_count=1, lower=True)


EMBED = RNG.standard_normal((text_tokenizer().size, 2)).astype(np.float32)


def text_reference(sentences: list[str]) -> np.ndarray:
    """The text model by hand: each row's token embeddings summed, in float64."""
    return EMBED.astype(np.float64)[text_tokenizer().encode(sentences)].sum(axis=1)


def save_text_classifier(path: Path) -> Path:
    """tokens INT64 [N, 6] -> logits FP32 [N, 2] (Gather, ReduceSum), with the tokenizer, the
    classes and the task in the metadata, as `netlang export` writes them."""
    x = helper.make_tensor_value_info("tokens", TensorProto.INT64, ["N", TEXT_LENGTH])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    nodes = [
        helper.make_node("Gather", ["embed", "tokens"], ["vectors"]),
        helper.make_node("ReduceSum", ["vectors", "axes"], ["logits"], keepdims=0),
    ]
    weights = [numpy_helper.from_array(EMBED, "embed"), axes]
    graph = helper.make_graph(nodes, "text", [x], [y], weights)
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=IR_VERSION)
    metadata = {
        "netlang.classes": json.dumps(["ham", "spam"]),
        "netlang.tokenizer": json.dumps(text_tokenizer().to_json()),
        "netlang.task": "classification",
    }
    helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path
