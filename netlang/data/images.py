"""Image folders: root/<class>/<image> (optionally under train/, val/, test/) -> Datasets.

The layout is torchvision's ImageFolder: one sub-folder per class, classes numbered in sorted
order of their folder names. Images are decoded with Pillow, converted to 1 or 3 channels and
resized to `size`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from netlang.imaging import to_pixels
from netlang.data.dataset import Dataset

# torchvision's IMG_EXTENSIONS
EXTENSIONS = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}
SPLIT_FOLDERS = ("train", "val", "test")
_MODES = {1: "L", 3: "RGB"}


def load_image_folder(
    root: Path, *, size: tuple[int, int] | None = None, channels: int = 3, limit: int | None = None
) -> tuple[dict[str, Dataset], list[str]]:
    """The splits found under `root` (just "train" when it has no train/ folder) and the
    class names.

    `limit` caps the images read from each split, taking classes in turn (first image of every
    class, then the second, ...) so that a small limit still covers every class.

    Raises:
        ValueError: no class folders or images, split folders whose classes differ, images of
            different sizes without `size`, or an unsupported channel count.
    """
    if channels not in _MODES:
        raise ValueError(f"image_folder: channels={channels!r}; expected 1 or 3")
    if not root.is_dir():
        raise ValueError(f"image_folder: {root} is not a folder")
    folders = (
        {name: root / name for name in SPLIT_FOLDERS if (root / name).is_dir()}
        if (root / "train").is_dir()
        else {"train": root}
    )
    classes = _classes(folders["train"])
    splits = {}
    for name, folder in folders.items():
        if _classes(folder) != classes:
            raise ValueError(
                f"image_folder: {folder} has classes {_classes(folder)}, but "
                f"{folders['train']} has {classes}"
            )
        files = _files(folder, classes, limit, every_class=name == "train")
        splits[name] = Dataset(
            _decode(files, size, _MODES[channels]),
            np.array([label for _, label in files], dtype=np.int64),
        )
    return splits, classes


def _classes(folder: Path) -> list[str]:
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"image_folder: {folder} has no class sub-folders")
    return classes


def _files(
    folder: Path, classes: list[str], limit: int | None, every_class: bool
) -> list[tuple[Path, int]]:
    """(path, label) pairs, interleaved across classes: rank within the class, then class;
    `every_class`: a class folder without images is an error (the training split's)."""
    ranked = []
    for label, name in enumerate(classes):
        images = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in EXTENSIONS)
        ranked += [(rank, label, path) for rank, path in enumerate(images)]
    if not ranked:
        raise ValueError(f"image_folder: no images under {folder}")
    empty = sorted({*classes} - {classes[label] for _, label, _ in ranked})
    if empty and every_class:
        raise ValueError(
            f"image_folder: class folder{'s' if len(empty) > 1 else ''} "
            f"{', '.join(empty)} in {folder} hold{'' if len(empty) > 1 else 's'} no images "
            f"({', '.join(sorted(EXTENSIONS))}): add some, or remove the folder"
        )
    ranked.sort(key=lambda item: item[:2])
    return [(path, label) for _, label, path in ranked[:limit]]


def _decode(files: list[tuple[Path, int]], size: tuple[int, int] | None, mode: str) -> np.ndarray:
    """Images as float32 [n, C, H, W] in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    pixels = []
    for path, _ in files:
        try:
            with Image.open(path) as image:
                pixels.append(to_pixels(image, mode, size)[0])
        except UnidentifiedImageError:
            raise ValueError(f"{path}: not an image Pillow can read (damaged?)") from None
    if len({p.shape for p in pixels}) > 1:
        raise ValueError(
            f"image_folder: images under {files[0][0].parent.parent} differ in "
            "size; set size=... to resize them"
        )
    return np.stack(pixels)
