"""Pictures of predictions for the run directory and `netlang predict`: grey or colour images
[C, H, W] in [0, 1] + boxes or masks -> PNG files (Pillow)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

# distinct colours (matplotlib's tab10), one per class, cycling
PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip


def to_rgb(image: np.ndarray, scale: int = 1) -> np.ndarray:
    """[C, H, W] floats -> uint8 [H * scale, W * scale, 3], stretched to the image's own range
    (inputs may be standardised)."""
    pixels = np.asarray(image, np.float32)
    low, high = float(pixels.min()), float(pixels.max())
    pixels = (pixels - low) / (high - low if high > low else 1.0)
    rgb = np.repeat(pixels, 3, 0) if pixels.shape[0] == 1 else pixels[:3]
    rgb = (rgb.transpose(1, 2, 0) * 255).round().astype(np.uint8)
    return rgb.repeat(scale, 0).repeat(scale, 1)


def draw_boxes(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: Sequence[int],
    scores: Sequence[float] | None,
    classes: Sequence[str],
    scale: int = 4,
) -> np.ndarray:
    """The image enlarged `scale` times with each box outlined in its class colour and named."""
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(to_rgb(image, scale))
    draw = ImageDraw.Draw(canvas)
    for k, (box, label) in enumerate(zip(np.asarray(boxes).reshape(-1, 4), labels)):
        colour = PALETTE[int(label) % len(PALETTE)]
        x1, y1, x2, y2 = (float(v) * scale for v in box)
        draw.rectangle([x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)], outline=colour, width=2)
        name = classes[int(label)] if int(label) < len(classes) else str(int(label))
        text = name if scores is None else f"{name} {float(scores[k]):.2f}"
        draw.text((x1 + 2, y1 + 1), text, fill=colour)
    return np.asarray(canvas)


def draw_mask(
    image: np.ndarray, mask: np.ndarray, scale: int = 4, alpha: float = 0.55
) -> np.ndarray:
    """The image enlarged with each non-background class (mask > 0) tinted in its colour."""
    rgb = to_rgb(image, scale).astype(np.float32)
    big = np.asarray(mask).repeat(scale, 0).repeat(scale, 1)
    colours = np.array([(0, 0, 0), *PALETTE * 3], np.float32)
    tint = colours[np.clip(big, 0, len(colours) - 1)]
    where = (big > 0)[..., None]
    return np.where(where, (1 - alpha) * rgb + alpha * tint, rgb).round().astype(np.uint8)


def save_grid(path: Path, rows: Sequence[Sequence[np.ndarray]], gap: int = 4) -> None:
    """Tiles (uint8 [h, w, 3], all one size) in rows -> one PNG with white gaps."""
    from PIL import Image

    height, width = rows[0][0].shape[:2]
    columns = max(len(row) for row in rows)
    sheet = np.full(
        (len(rows) * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8
    )
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            top, left = r * (height + gap), c * (width + gap)
            sheet[top : top + height, left : left + width] = tile
    Image.fromarray(sheet).save(path)
