"""Swin's two ops (Liu et al. 2021): shifted-window attention with a relative position bias, and
patch merging, both on channels-last [N, H, W, C] maps with torchvision's names."""

from __future__ import annotations

from netlang.ir import TensorType
from netlang.ops.registry import (
    Attr,
    Attrs,
    Ins,
    OpSpec,
    ShapeError,
    need_rank,
    register,
    static,
    tuple_of,
)


def _window_embed(ins: Ins, a: Attrs) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """Channels, window and shift of a window attention, checked."""
    x = ins[0]
    need_rank("window_attention", x, (4,), "[N, H, W, C] (channels last)")
    c = static("window_attention", x, 3, "channels")
    if a["heads"] < 1 or c % a["heads"]:
        raise ShapeError(
            f"window_attention channels ({c}) must split evenly into {a['heads']} heads",
            code="NL2005",
        )
    window, shift = tuple_of(a["window"], 2), tuple_of(a["shift"], 2)
    if any(not 0 <= s < w for s, w in zip(shift, window)):
        raise ShapeError(
            f"window_attention shift {list(shift)} must lie in [0, window) for window "
            f"{list(window)}",
            "Swin shifts every second block by half a window: shift = window // 2",
            "NL2005",
        )
    return c, window, shift  # type: ignore[return-value]


def _window_params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
    c, (wh, ww), _ = _window_embed(ins, a)
    return {
        "relative_position_bias_table": ((2 * wh - 1) * (2 * ww - 1), a["heads"]),
        "qkv.weight": (3 * c, c),
        "qkv.bias": (3 * c,),
        "proj.weight": (c, c),
        "proj.bias": (c,),
    }


def _window_buffers(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
    _, (wh, ww), _ = _window_embed(ins, a)
    return {"relative_position_index": ((wh * ww) ** 2,)}


def _window_macs(ins: Ins, outs: tuple[TensorType, ...], a: Attrs) -> int:
    c, window, _ = _window_embed(ins, a)
    tokens = 1  # positions after padding to whole windows (1 per symbolic axis)
    for d, w in zip(ins[0].shape[1:3], window):
        tokens *= d + (-d) % w if isinstance(d, int) else 1
    return tokens * (4 * c * c + 2 * window[0] * window[1] * c)


# The exported graph holds a [T^2] position index and, when shifted, a [windows, T, T] mask (T the
# positions of a window); both stay under this many entries.
MAX_TABLE = 2**24


def _window_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    _, window, shift = _window_embed(ins, a)
    h, w = ins[0].shape[1:3]
    if not (isinstance(h, int) and isinstance(w, int)):
        raise ShapeError(
            f"window_attention needs a fixed H and W, not {h} x {w}: its windows, shift mask and "
            "padding are constants of the exported graph",
            "give the model a fixed input size (Swin's `size`)",
            code="NL4001",
        )
    tokens = window[0] * window[1]
    area = (h + (-h) % window[0]) * (w + (-w) % window[1]) if any(shift) else 0
    if max(tokens, area) * tokens > MAX_TABLE:
        raise ShapeError(
            f"window_attention with a {window[0]} x {window[1]} window on a {h} x {w} map needs "
            f"constant tables (position index, shift mask) of {max(tokens, area) * tokens:,} "
            f"entries, more than the {MAX_TABLE:,} allowed",
            "Swin's windows are 7 to 24 positions wide; a window as large as the map is one "
            "global attention",
            "NL2023",
        )
    return (ins[0],)


window_attention = register(
    OpSpec(
        "window_attention",
        "Shifted-window multi-head self-attention with a relative position bias on "
        "[N, H, W, C] (Swin, Liu et al. 2021; torchvision's ShiftedWindowAttention and its "
        "names): pad to whole windows, roll by -shift, attend within each window, roll back, "
        "crop. The shift is skipped on an axis one window covers.",
        (Attr("heads", "int"), Attr("window", "ints", 7), Attr("shift", "ints", 0)),
        _window_infer,
        _window_params,
        _window_buffers,
        macs=_window_macs,
    )
)


def _merging_channels(ins: Ins) -> int:
    need_rank("patch_merging", ins[0], (4,), "[N, H, W, C] (channels last)")
    return static("patch_merging", ins[0], 3, "channels")


def _merging_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    c = _merging_channels(ins)
    n, h, w, _ = ins[0].shape
    half = [(d + 1) // 2 if isinstance(d, int) else f"{d}'" for d in (h, w)]
    return (ins[0].with_shape((n, *half, 2 * c)),)


def _merging_params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
    c = _merging_channels(ins)
    return {"reduction.weight": (2 * c, 4 * c), "norm.weight": (4 * c,), "norm.bias": (4 * c,)}


def _merging_macs(ins: Ins, outs: tuple[TensorType, ...], a: Attrs) -> int:
    c, positions = _merging_channels(ins), 1
    for d in outs[0].shape[1:3]:
        positions *= d if isinstance(d, int) else 1
    return positions * 8 * c * c


patch_merging = register(
    OpSpec(
        "patch_merging",
        "Swin's patch merging on [N, H, W, C] (torchvision's PatchMerging and its names): each "
        "2 x 2 group of positions concatenated to 4C (an odd H or W padded by one), layer norm, "
        "and a linear reduction to 2C without bias.",
        (Attr("eps", "float", 1e-5),),
        _merging_infer,
        _merging_params,
        macs=_merging_macs,
    )
)
