"""ONNX lowerings of the sequence ops: LSTM/GRU, multi-head self-attention, and the padding
mask and masked mean that keep padded text out of it."""

from __future__ import annotations

import math

import numpy as np
from onnx import helper

from netlang.backends.onnx_lowering import Lowering


# Recurrent layers.
# torch's gate blocks, listed in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h.
GATE_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2)}


def recurrent(ctx: Lowering) -> None:
    """One ONNX LSTM/GRU per layer over time-major input; Y [T, dirs, N, H] becomes
    [T, N, dirs*H] between layers and [N, T, dirs*H] (batch_first) at the end."""
    a, op = ctx.attrs, ctx.node.op
    hidden, order = a["hidden"], GATE_ORDER[op]
    directions = ("", "_reverse")[: 2 if a["bidirectional"] else 1]
    rows = np.concatenate([np.arange(g * hidden, (g + 1) * hidden) for g in order])
    weight_rows = ctx.ints("weight_rows", rows[None])  # [1, gates*H]: Gather adds the dirs axis
    bias_rows = (
        ctx.ints("bias_rows", np.concatenate([rows, rows + len(order) * hidden])[None])
        if a["bias"]
        else ""
    )
    merge_shape = ctx.ints("merge_shape", [0, 0, -1])
    x = ctx.emit("Transpose", [ctx.x], "time_major", perm=[1, 0, 2]) if a["batch_first"] else ctx.x
    extra = {"linear_before_reset": 1} if op == "gru" else {}
    for layer in range(a["layers"]):
        w, r, b = [], [], []
        for suffix in directions:
            tag = f"l{layer}{suffix}"
            w.append(ctx.emit("Gather", [ctx.param(f"weight_ih_{tag}"), weight_rows], f"W_{tag}"))
            r.append(ctx.emit("Gather", [ctx.param(f"weight_hh_{tag}"), weight_rows], f"R_{tag}"))
            if a["bias"]:
                biases = [ctx.param(f"bias_ih_{tag}"), ctx.param(f"bias_hh_{tag}")]
                both = ctx.emit("Concat", biases, f"bias_{tag}", axis=0)
                b.append(ctx.emit("Gather", [both, bias_rows], f"B_{tag}"))
        w_r_b = [
            parts[0]
            if len(parts) == 1
            else ctx.emit("Concat", parts, f"{name}_l{layer}_both", axis=0)
            for name, parts in (("W", w), ("R", r), ("B", b))
            if parts
        ]
        y = ctx.emit(
            op.upper(),
            [x, *w_r_b],
            f"Y_l{layer}",
            hidden_size=hidden,
            direction="bidirectional" if len(directions) == 2 else "forward",
            **extra,
        )
        if layer < a["layers"] - 1:
            y = ctx.emit("Transpose", [y], f"Y_l{layer}_tnd", perm=[0, 2, 1, 3])
            x = ctx.emit("Reshape", [y, merge_shape], f"out_l{layer}")
            continue
        perm = [2, 0, 1, 3] if a["batch_first"] else [0, 2, 1, 3]
        ctx.emit("Reshape", [ctx.emit("Transpose", [y], "Y_ordered", perm=perm), merge_shape])


def attention(ctx: Lowering) -> None:
    """nn.MultiheadAttention as MatMul/Softmax: one packed q, k, v projection, heads split as
    [N, heads, T, head size], scaled dot products (plus a -inf upper triangle when causal),
    heads merged, output projection. Dropout is the identity at inference."""
    a, e = ctx.attrs, int(ctx.shape[2])
    heads = a["heads"]
    size = e // heads
    weight = ctx.emit("Transpose", [ctx.param("in_proj_weight")], "in_proj_t", perm=[1, 0])
    packed = ctx.emit("MatMul", [ctx.x, weight], "in_proj")
    if a["bias"]:
        packed = ctx.emit("Add", [packed, ctx.param("in_proj_bias")], "in_proj_biased")
    split = ctx.ints("head_shape", [0, 0, 3 * heads, size])
    qkv = ctx.emit("Reshape", [packed, split], "heads")
    qkv = ctx.emit("Transpose", [qkv], "heads_first", perm=[0, 2, 1, 3])  # [N, 3H, T, D]
    parts = [f"{ctx.node.name}/{p}" for p in "qkv"]
    ctx.nodes.append(
        helper.make_node(
            "Split",
            [qkv, ctx.ints("qkv_sizes", [heads] * 3)],
            parts,
            name=f"{ctx.node.name}/split",
            axis=1,
        )
    )
    q, k, v = parts
    q = ctx.emit("Mul", [q, ctx.floats("scale", 1 / math.sqrt(size))], "q_scaled")
    kt = ctx.emit("Transpose", [k], "k_t", perm=[0, 1, 3, 2])
    scores = ctx.emit("MatMul", [q, kt], "scores")
    if a["causal"]:
        steps = ctx.emit("Shape", [ctx.x], "steps", start=1, end=2)
        square = ctx.emit("Concat", [steps, steps], "square", axis=0)
        fill = helper.make_tensor(
            "fill", helper.np_dtype_to_tensor_dtype(np.dtype(ctx.float_type)), [1], [-np.inf]
        )
        blocked = ctx.emit("ConstantOfShape", [square], "blocked", value=fill)
        mask = ctx.emit("Trilu", [blocked, ctx.ints("one", 1)], "mask", upper=1)
        scores = ctx.emit("Add", [scores, mask], "masked")
    if (
        len(ctx.inputs) == 2
    ):  # keys where keep is 0 get the lowest float (as torch_ops.SelfAttention)
        dropped = ctx.emit("Equal", [ctx.inputs[1], ctx.floats("zero", 0.0)], "dropped")
        lowest = ctx.floats("lowest", np.finfo(ctx.float_type).min)
        bias = ctx.emit("Where", [dropped, lowest, ctx.floats("kept", 0.0)], "key_bias")
        bias = ctx.emit("Unsqueeze", [bias, ctx.ints("key_axes", [1, 2])], "key_bias_nhtk")
        scores = ctx.emit("Add", [scores, bias], "keys_masked")
    weights = ctx.emit("Softmax", [scores], "weights", axis=-1)
    attended = ctx.emit("MatMul", [weights, v], "attended")  # [N, H, T, D]
    merged = ctx.emit("Transpose", [attended], "merged_t", perm=[0, 2, 1, 3])
    merged = ctx.emit("Reshape", [merged, ctx.ints("merged_shape", [0, 0, e])], "merged")
    out_weight = ctx.emit("Transpose", [ctx.param("out_proj.weight")], "out_proj_t", perm=[1, 0])
    if not a["bias"]:
        ctx.emit("MatMul", [merged, out_weight])
        return
    product = ctx.emit("MatMul", [merged, out_weight], "out_proj")
    ctx.emit("Add", [product, ctx.param("out_proj.bias")])


def expand_batch(ctx: Lowering) -> None:
    """x [1, ...] repeated along the batch of the second input. Written as Where(mask [N, 1, ...],
    x, x), which broadcasts like Expand but keeps every fixed dim visible to ONNX shape
    inference (an Expand to a computed shape loses them); the mask is cut from the batch input
    itself, so its values never matter."""
    like = ctx.node.input_types[1].rank
    axes = list(range(1, like))
    cut = ctx.inputs[1]
    if axes:
        one = ctx.ints("one", [1] * len(axes))
        cut = ctx.emit(
            "Slice", [cut, ctx.ints("zero", [0] * len(axes)), one, ctx.ints("axes", axes)], "cut"
        )
    rank = len(ctx.shape)
    column = ctx.emit("Reshape", [cut, ctx.ints("column", [-1] + [1] * (rank - 1))], "column_of")
    mask = ctx.emit("Cast", [column], "mask", to=9)  # BOOL
    ctx.emit("Where", [mask, ctx.x, ctx.x])


def padding_mask(ctx: Lowering) -> None:
    """1 where the token is not `pad`, else 0, in the model's float type."""
    pad = ctx.ints("pad", ctx.attrs["pad"])
    same = ctx.emit("Equal", [ctx.x, ctx.emit("CastLike", [pad, ctx.x], "pad_like")], "is_pad")
    to = helper.np_dtype_to_tensor_dtype(np.dtype(ctx.float_type))
    ctx.emit("Cast", [ctx.emit("Not", [same], "is_token")], to=to)


def masked_mean(ctx: Lowering) -> None:
    """sum(x * keep) / max(sum(keep), 1) over axis 1, keep [N, T] widened to x's rank."""
    rank = len(ctx.shape)
    keep = ctx.inputs[1]
    if rank > 2:
        keep = ctx.emit("Unsqueeze", [keep, ctx.ints("tail", list(range(2, rank)))], "keep_wide")
    axis = ctx.ints("axis", [1])
    total = ctx.emit(
        "ReduceSum", [ctx.emit("Mul", [ctx.x, keep], "kept"), axis], "total", keepdims=0
    )
    count = ctx.emit("ReduceSum", [keep, axis], "count", keepdims=0)
    count = ctx.emit("Max", [count, ctx.floats("one", 1.0)], "count_at_least_1")
    ctx.emit("Div", [total, count])
