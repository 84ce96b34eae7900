"""A built-in detection / segmentation set: the 8x8 digits pasted onto a larger canvas -> Datasets
of scenes with their boxes or per-pixel masks.

Each scene holds `objects` digits (a random count in [lo, hi]), each enlarged to a random square
size in `scale` pixels and pasted at a random position where it overlaps no digit already there.
A digit's mask is its enlarged image above 30 % of its peak intensity, its box the tight box
around the mask. Everything follows from `seed`; nothing is downloaded. The train, val and test
scenes draw on disjoint thirds-by-split of the 1,797 digits (split by class, as `split.py`
does), so a test scene never reuses a digit image seen in training.

Targets (see `netlang.data.targets`): "boxes" gives float32 [n, max_objects, 5] rows
(x1, y1, x2, y2, class) in pixels with padding rows of -1; "masks" gives int64 [n, H, W] with 0
for the background and 1 + digit elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netlang.data.dataset import Dataset
from netlang.data.resize import resize
from netlang.data.split import Fractions, split_indices
from netlang.data.targets import boxes_array

DIGIT_CLASSES = [str(d) for d in range(10)]
_TRIES = 30  # placements tried per digit before the scene makes do with fewer
_MASK_LEVEL = 0.3  # a pixel belongs to the digit above this fraction of the digit's peak


@dataclass(frozen=True)
class SceneSpec:
    """How scenes are drawn: canvas (height, width), digits per scene and digit sizes (inclusive
    ranges)."""

    size: tuple[int, int] = (64, 64)
    objects: tuple[int, int] = (1, 3)
    scale: tuple[int, int] = (14, 28)


@dataclass
class Scenes:
    """Rendered scenes: images [n, 1, H, W], per-object boxes/classes and per-pixel masks."""

    x: np.ndarray
    boxes: list[np.ndarray]  # per scene: float32 [k, 4] x1, y1, x2, y2
    labels: list[np.ndarray]  # per scene: int64 [k]
    masks: np.ndarray  # int64 [n, H, W]: 0 background, 1 + class of the digit on top

    def dataset(self, target: str, max_objects: int) -> Dataset:
        """The scenes with the targets a task trains on ("boxes" or "masks")."""
        if target == "masks":
            return Dataset(self.x, self.masks)
        return Dataset(self.x, boxes_array(self.boxes, self.labels, max_objects))


def render_scenes(
    digits: np.ndarray, labels: np.ndarray, count: int, spec: SceneSpec, seed: int
) -> Scenes:
    """`count` scenes of `digits` ([m, 8, 8] in [0, 1]) with their `labels`, drawn from `seed`."""
    rng = np.random.default_rng(seed)
    height, width = spec.size
    x = np.zeros((count, 1, height, width), np.float32)
    masks = np.zeros((count, height, width), np.int64)
    all_boxes, all_labels = [], []
    for i in range(count):
        boxes, classes = [], []
        taken = np.zeros((height, width), bool)
        for _ in range(int(rng.integers(spec.objects[0], spec.objects[1] + 1))):
            pick = int(rng.integers(len(digits)))
            side = int(rng.integers(spec.scale[0], spec.scale[1] + 1))
            placed = _place(rng, taken, side)
            if placed is None:
                continue
            top, left = placed
            patch = resize(digits[pick][None], (side, side))[0]
            inside = patch > _MASK_LEVEL * patch.max()
            rows, cols = np.nonzero(inside)
            window = (slice(top, top + side), slice(left, left + side))
            x[i, 0][window] = np.maximum(x[i, 0][window], patch)
            masks[i][window][inside] = 1 + int(labels[pick])
            taken[window] = True
            boxes.append(
                [left + cols.min(), top + rows.min(), left + cols.max() + 1, top + rows.max() + 1]
            )
            classes.append(int(labels[pick]))
        all_boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
        all_labels.append(np.asarray(classes, np.int64))
    return Scenes(x, all_boxes, all_labels, masks)


def _place(rng: np.random.Generator, taken: np.ndarray, side: int) -> tuple[int, int] | None:
    """A (top, left) where a side x side square fits on the canvas without touching `taken`."""
    height, width = taken.shape
    if side > height or side > width:
        return None
    for _ in range(_TRIES):
        top = int(rng.integers(height - side + 1))
        left = int(rng.integers(width - side + 1))
        if not taken[top : top + side, left : left + side].any():
            return top, left
    return None


def scene_splits(
    digits: np.ndarray,
    labels: np.ndarray,
    *,
    count: int,
    fractions: Fractions,
    spec: SceneSpec,
    seed: int,
) -> list[Scenes | None]:
    """Train, val and test scenes (None for an empty fraction): round(count * fraction) scenes
    each, every split pasting its own disjoint share of the digits."""
    pools = split_indices(labels, fractions, seed)
    result: list[Scenes | None] = []
    for part, (fraction, pool) in enumerate(zip(fractions, pools)):
        n = round(count * fraction)
        if fraction == 0 or n == 0:
            result.append(None)
            continue
        result.append(render_scenes(digits[pool], labels[pool], n, spec, seed * 3 + part))
    return result
