"""Detection and segmentation targets as fixed-shape arrays, so that they batch, split and
shuffle like class ids: per-image box lists -> one padded float32 [n, M, 5] array.

A box row is (x1, y1, x2, y2, class) in pixels of the (resized) image, x to the right and y down,
x2/y2 exclusive; rows past an image's last box are all -1 (class -1 marks them). Masks are
int64 [n, H, W] class ids with 0 for the background.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TARGETS = ("boxes", "masks")


def boxes_array(
    boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray], max_objects: int | None = None
) -> np.ndarray:
    """Per-image boxes ([k, 4]) and labels ([k]) -> float32 [n, M, 5], M = max_objects or the
    largest k; images with more than M boxes keep their first M.

    Raises:
        ValueError: a box list and its label list differ in length.
    """
    most = max((len(b) for b in boxes), default=0)
    width = max(1, most if max_objects is None else max_objects)
    out = np.full((len(boxes), width, 5), -1.0, np.float32)
    for i, (b, c) in enumerate(zip(boxes, labels)):
        if len(b) != len(c):
            raise ValueError(f"image {i} has {len(b)} boxes but {len(c)} labels")
        k = min(len(b), width)
        out[i, :k, :4] = np.asarray(b, np.float32).reshape(-1, 4)[:k]
        out[i, :k, 4] = np.asarray(c)[:k]
    return out


def unpad(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One image's [M, 5] rows -> (boxes [k, 4], labels [k]) without the padding."""
    keep = row[:, 4] >= 0
    return row[keep, :4], row[keep, 4].astype(np.int64)


def scale_boxes(
    boxes: np.ndarray, original: tuple[int, int], size: tuple[int, int] | None
) -> np.ndarray:
    """Boxes of an image of (height, width) `original`, resized to `size`."""
    if size is None or size == original:
        return boxes
    sy, sx = size[0] / original[0], size[1] / original[1]
    return (boxes * np.array([sx, sy, sx, sy], np.float32)).astype(np.float32)


def check_target(target: object, source: str) -> str:
    """The target a source was asked for, checked."""
    if target not in TARGETS:
        raise ValueError(f"{source}: target={target!r}: expected one of {', '.join(TARGETS)}")
    return str(target)
