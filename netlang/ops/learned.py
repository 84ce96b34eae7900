"""Learned free tensors (class token, position embedding, layer scale) and batch expansion."""

from __future__ import annotations

from netlang.ir import TensorType, format_shape
from netlang.ops.registry import Attr, Attrs, Ins, OpSpec, ShapeError, register


def _param_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    shape = a["shape"]
    if not shape or any(d < 1 for d in shape):
        raise ShapeError(f"param needs positive sizes, got {list(shape)}", code="NL2005")
    if a["std"] < 0:
        raise ShapeError(f"param std must not be negative, got {a['std']}", code="NL2005")
    return (TensorType("float32", tuple(shape)),)


param = register(
    OpSpec(
        "param",
        "A learned tensor of a fixed shape, stored under the layer's own name (torchvision's "
        "`class_token`, `encoder.pos_embedding`, `layer_scale`); starts at value + std * N(0, 1). "
        "Broadcasting `+`/`*` combine it with activations.",
        (Attr("shape", "int_list"), Attr("value", "float", 0.0), Attr("std", "float", 0.0)),
        _param_infer,
        lambda ins, a: {"": tuple(a["shape"])},
        arity=(0, 0),
    )
)


def _expand_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    t, like = ins
    if t.rank < 1 or t.shape[0] != 1 or like.rank < 1:
        raise ShapeError(
            f"expand_batch needs a tensor with a leading 1, got {format_shape(t.shape)}",
            code="NL3003",
        )
    return (t.with_shape((like.shape[0], *t.shape[1:])),)


expand_batch = register(
    OpSpec(
        "expand_batch",
        "Repeat a tensor with a leading 1 along the batch of another: "
        "`expand_batch(class_token, x)` is [N, ...] (ViT's class token).",
        (),
        _expand_infer,
        arity=(2, 2),
        takes="numbers",
    )
)
