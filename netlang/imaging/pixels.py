"""A picture -> float32 C x H x W in [0, 1] at the model's size: one resampling for the image
loaders (`image_folder`, annotated images) and `netlang predict`.

The resize runs on floats, per channel in PIL's "F" mode, with PIL's BILINEAR filter
(the antialiased triangle of `netlang.data.resize`, which resizes MNIST, CIFAR and the other
array data sets): so a PNG of an MNIST digit given to `predict` becomes the pixels training saw
to float rounding (1e-7), where resizing its 8-bit pixels rounded each to 1/255 first."""

from __future__ import annotations

from typing import Any

import numpy as np

from netlang.imaging.modes import convert_mode


def to_pixels(image: Any, mode: str, size: tuple[int, int] | None) -> tuple[np.ndarray, str | None]:
    """`image` (a PIL image) in `mode` ("L" or "RGB") as float32 [C, H, W] in [0, 1], resized to
    `size` (height, width) unless it has that size or `size` is None; and the mode's note."""
    from PIL import Image

    converted, note = convert_mode(image, mode)
    if size is None or (converted.height, converted.width) == tuple(size):
        array = np.asarray(converted, np.float32) / np.float32(255.0)
        return np.ascontiguousarray(array.reshape(*array.shape[:2], -1).transpose(2, 0, 1)), note
    height, width = size
    planes = [  # 0..255 as floats, resized, then scaled: PIL does the wide work in C
        np.asarray(plane.convert("F").resize((width, height), Image.Resampling.BILINEAR))
        for plane in converted.split()
    ]
    return np.stack(planes) / np.float32(255.0), note
