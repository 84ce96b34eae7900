"""An image in the mode a model's channels need, the same for `image_folder` training data,
annotated detection/segmentation images and `netlang predict`: a model sees at prediction what
it saw in training. Transparent pixels are composited onto white first (a drawing on a
transparent background, alpha as the ink, would otherwise turn all black: PIL drops alpha)."""

from __future__ import annotations

from typing import Any

BACKGROUND = (255, 255, 255, 255)  # what transparent pixels show: a page's white


def convert_mode(image: Any, mode: str) -> tuple[Any, str | None]:
    """`image` (a PIL image) in `mode` ("L" or "RGB"), and a note saying what was converted
    (None when it already was in `mode`)."""
    from PIL import Image

    if image.mode == mode:
        return image, None
    original = image.mode
    transparent = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or image.has_transparency_data
    if transparent:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND), rgba)
    note = f"{original} -> {mode}" + (", transparency composited onto white" if transparent else "")
    return image.convert(mode), note
