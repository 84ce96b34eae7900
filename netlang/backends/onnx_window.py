"""ONNX lowerings of Swin's ops. Shifted-window attention: Pad, a roll as Slice + Concat, windows
by Reshape/Transpose, scaled dot products plus the gathered bias table and the constant shift
mask, Softmax, and the way back. Patch merging: strided Slices, Concat, LayerNormalization."""

from __future__ import annotations

import math

from onnx import helper

from netlang.backends.onnx_lowering import Lowering
from netlang.backends.windows import effective_shift, padded, relative_position_index, shift_mask
from netlang.ops.registry import tuple_of


def _roll(ctx: Lowering, x: str, shift: tuple[int, int], sizes: tuple[int, int], tag: str) -> str:
    """torch.roll over H and W (axes 1, 2) by `shift`: the last `s` rows moved to the front."""
    for axis, (s, n) in enumerate(zip(shift, sizes), start=1):
        s %= n
        if not s:
            continue
        name = f"{tag}{axis}"
        cut, along = ctx.ints(f"{name}_cut", [n - s]), ctx.ints(f"{name}_axis", [axis])
        ends = (ctx.ints(f"{name}_end", [n]), ctx.ints(f"{name}_start", [0]))
        tail = ctx.emit("Slice", [x, cut, ends[0], along], f"{name}_tail")
        head = ctx.emit("Slice", [x, ends[1], cut, along], f"{name}_head")
        x = ctx.emit("Concat", [tail, head], f"{name}_rolled", axis=axis)
    return x


def window_attention(ctx: Lowering) -> None:
    """torchvision's shifted_window_attention at fixed H and W: the bias table is gathered by the
    constant relative position index (ORT folds it), the mask is a constant per window."""
    _, h, w, c = ctx.shape
    a, c = ctx.attrs, int(c)
    window, heads = tuple_of(a["window"], 2), a["heads"]
    (wh, ww), tokens, size = window, window[0] * window[1], c // heads
    sizes = (padded(h, wh), padded(w, ww))
    shift = effective_shift((h, w), window, tuple_of(a["shift"], 2))
    x = ctx.x
    if sizes != (h, w):
        pads = ctx.ints("pads", [0, 0, 0, 0, 0, sizes[0] - h, sizes[1] - w, 0])
        x = ctx.emit("Pad", [x, pads], "padded")
    x = _roll(ctx, x, (-shift[0], -shift[1]), sizes, "in")
    grid = [sizes[0] // wh, wh, sizes[1] // ww, ww, c]
    x = ctx.emit("Reshape", [x, ctx.ints("grid_shape", [-1, *grid])], "grid")
    x = ctx.emit("Transpose", [x], "grid_t", perm=[0, 1, 3, 2, 4, 5])
    x = ctx.emit("Reshape", [x, ctx.ints("windows_shape", [-1, tokens, c])], "windows")
    weight = ctx.emit("Transpose", [ctx.param("qkv.weight")], "qkv_t", perm=[1, 0])
    qkv = ctx.emit("Add", [ctx.emit("MatMul", [x, weight], "qkv"), ctx.param("qkv.bias")], "qkv_b")
    qkv = ctx.emit("Reshape", [qkv, ctx.ints("head_shape", [0, 0, 3 * heads, size])], "heads")
    qkv = ctx.emit("Transpose", [qkv], "heads_first", perm=[0, 2, 1, 3])  # [B, 3 heads, T, d]
    q, k, v = (f"{ctx.node.name}/{p}" for p in "qkv")
    sizes_qkv = ctx.ints("qkv_sizes", [heads] * 3)
    ctx.nodes.append(
        helper.make_node(
            "Split", [qkv, sizes_qkv], [q, k, v], name=f"{ctx.node.name}/split", axis=1
        )
    )
    q = ctx.emit("Mul", [q, ctx.floats("scale", 1 / math.sqrt(size))], "q_scaled")
    kt = ctx.emit("Transpose", [k], "k_t", perm=[0, 1, 3, 2])
    scores = ctx.emit("MatMul", [q, kt], "scores")
    index = ctx.ints("relative_position_index", relative_position_index(window))
    bias = ctx.emit("Gather", [ctx.param("relative_position_bias_table"), index], "bias_rows")
    bias = ctx.emit("Reshape", [bias, ctx.ints("bias_shape", [tokens, tokens, heads])], "bias")
    bias = ctx.emit("Transpose", [bias], "bias_t", perm=[2, 0, 1])  # [heads, T, T]
    scores = ctx.emit("Add", [scores, bias], "biased")
    if any(shift):
        mask = shift_mask(sizes, window, shift)[:, None]  # [windows, 1, T, T]
        per_image = ctx.ints("per_image_shape", [-1, mask.shape[0], heads, tokens, tokens])
        scores = ctx.emit("Reshape", [scores, per_image], "per_image")
        scores = ctx.emit("Add", [scores, ctx.floats("mask", mask)], "masked")
        scores = ctx.emit("Reshape", [scores, ctx.ints("flat", [-1, heads, tokens, tokens])], "m")
    weights = ctx.emit("Softmax", [scores], "weights", axis=-1)
    x = ctx.emit(
        "Transpose", [ctx.emit("MatMul", [weights, v], "attended")], "t", perm=[0, 2, 1, 3]
    )
    x = ctx.emit("Reshape", [x, ctx.ints("merged_shape", [0, 0, c])], "merged")
    weight = ctx.emit("Transpose", [ctx.param("proj.weight")], "proj_t", perm=[1, 0])
    x = ctx.emit("Add", [ctx.emit("MatMul", [x, weight], "proj"), ctx.param("proj.bias")], "out")
    back = [sizes[0] // wh, sizes[1] // ww, wh, ww, c]
    x = ctx.emit("Reshape", [x, ctx.ints("back_shape", [-1, *back])], "back")
    x = ctx.emit("Transpose", [x], "back_t", perm=[0, 1, 3, 2, 4, 5])
    x = ctx.emit("Reshape", [x, ctx.ints("map_shape", [-1, *sizes, c])], "map")
    x = _roll(ctx, x, shift, sizes, "out")
    if sizes == (h, w):
        ctx.emit("Identity", [x])
        return
    ends = ctx.ints("crop", [h, w])
    ctx.emit("Slice", [x, ctx.ints("zeros", [0, 0]), ends, ctx.ints("hw", [1, 2])])


def patch_merging(ctx: Lowering) -> None:
    """The four strided Slices of each 2 x 2 group, concatenated (after a Pad of odd sizes, read
    from the input's shape where it is symbolic), LayerNormalization, MatMul."""
    _, h, w, _ = ctx.shape
    x = ctx.x
    if not (isinstance(h, int) and isinstance(w, int)):
        odd = ctx.emit(
            "Mod", [ctx.emit("Shape", [x], "hw", start=1, end=3), ctx.ints("two", [2])], "odd"
        )
        pads = [ctx.ints("pads_before", [0] * 5), odd, ctx.ints("pads_after", [0])]
        x = ctx.emit("Pad", [x, ctx.emit("Concat", pads, "pads", axis=0)], "even")
    elif h % 2 or w % 2:
        x = ctx.emit("Pad", [x, ctx.ints("pads", [0, 0, 0, 0, 0, h % 2, w % 2, 0])], "even")
    ends, axes, steps = (
        ctx.ints("ends", [2**62] * 2),
        ctx.ints("axes", [1, 2]),
        ctx.ints("steps", [2, 2]),
    )
    corners = [
        ctx.emit("Slice", [x, ctx.ints(f"start{i}{j}", [i, j]), ends, axes, steps], f"corner{i}{j}")
        for j in (0, 1)
        for i in (0, 1)
    ]
    merged = ctx.emit("Concat", corners, "merged", axis=-1)
    normed = ctx.emit(
        "LayerNormalization",
        [merged, ctx.param("norm.weight"), ctx.param("norm.bias")],
        "normed",
        axis=-1,
        epsilon=float(ctx.attrs["eps"]),
    )
    weight = ctx.emit("Transpose", [ctx.param("reduction.weight")], "reduction_t", perm=[1, 0])
    ctx.emit("MatMul", [normed, weight])
