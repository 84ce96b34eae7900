"""An image in the mode a model's channels need, the same for `image_folder` training data,
annotated detection/segmentation images and `netlang predict`: a model sees at prediction what
it saw in training. Transparent pixels are composited onto white first (a drawing on a
transparent background, alpha as the ink, would otherwise turn all black: PIL drops alpha), and
16-bit greys are scaled to 8 bits (PIL's convert clips them: a 16-bit scan turned all white)."""

from __future__ import annotations

from typing import Any

BACKGROUND = (255, 255, 255, 255)  # what transparent pixels show: a page's white
WIDE_GREYS = ("I;16", "I;16L", "I;16B", "I;16N")  # 16-bit grey PNGs and TIFFs open as these


def convert_mode(image: Any, mode: str) -> tuple[Any, str | None]:
    """`image` (a PIL image) in `mode` ("L" or "RGB"), and a note saying what was converted
    (None when it already was in `mode`)."""
    from PIL import Image

    if image.mode == mode:
        return image, None
    original = image.mode
    if original in WIDE_GREYS:
        image = _eight_bit(image)
        if image.mode == mode:
            return image, f"{original} -> {mode}, 16-bit values scaled to 8 bits"
    transparent = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or image.has_transparency_data
    if transparent:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND), rgba)
    note = f"{original} -> {mode}" + (", transparency composited onto white" if transparent else "")
    if original in WIDE_GREYS:
        note += ", 16-bit values scaled to 8 bits"
    return image.convert(mode), note


def _eight_bit(image: Any) -> Any:
    """A 16-bit grey image as "L", 0..65535 onto 0..255, rounded."""
    import numpy as np
    from PIL import Image

    wide = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.rint(wide / 257.0).astype(np.uint8), "L")
