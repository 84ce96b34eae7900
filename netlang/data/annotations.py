"""Annotated image sets in the formats people have -> Datasets with box or mask targets.

Pascal VOC: root/Annotations/*.xml naming images in root/JPEGImages/ (root/ImageSets/Main/
{train,val,test}.txt, where present, say which image is in which split). VOC's corners are
1-based and inclusive; they become x1 = xmin - 1, x2 = xmax in the half-open pixel convention
of `netlang.data.targets`. Objects marked difficult are kept.

COCO: one instances JSON (images, annotations, categories) and the image folder. Classes are
the categories in order of id; crowd annotations are left out (COCO's own evaluation ignores
them). Masks come from the polygons or RLE through pycocotools (the optional `detection`
extra), painted largest first so that small objects stay visible.

Images are decoded with Pillow, converted to `channels` and resized to `size`; boxes are scaled
and masks resized (nearest) with them.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import numpy as np

from netlang.imaging import to_pixels
from netlang.data.dataset import Dataset
from netlang.data.targets import boxes_array, scale_boxes

_MODES = {1: "L", 3: "RGB"}
VOC_SPLITS = ("train", "val", "test")


def load_voc(
    root: Path,
    *,
    size: tuple[int, int] | None,
    channels: int = 3,
    classes: list[str] | None = None,
    max_objects: int | None = None,
) -> tuple[dict[str, Dataset], list[str]]:
    """The splits of a VOC folder ({"train": all} without ImageSets) and the class names.

    Raises:
        ValueError: no Annotations folder or XML files, an unreadable file, a class not in
            `classes`, or images of different sizes without `size`.
    """
    folder = root / "Annotations"
    files = sorted(folder.glob("*.xml")) if folder.is_dir() else []
    if not files:
        raise ValueError(f"voc: no Annotations/*.xml under {root}")
    records = {path.stem: _voc_record(path, root) for path in files}
    names = classes or sorted({name for _, objects in records.values() for name, _ in objects})
    index = {name: i for i, name in enumerate(names)}
    splits = {}
    for split, stems in _voc_split_lists(root, list(records)).items():
        images, boxes, labels = [], [], []
        for stem in stems:
            image_path, objects = records[stem]
            unknown = [name for name, _ in objects if name not in index]
            if unknown:
                raise ValueError(f"voc: {stem}.xml has class {unknown[0]!r}, not in {names}")
            pixels, original = _decode(image_path, size, channels, "voc")
            box = np.asarray([b for _, b in objects], np.float32).reshape(-1, 4)
            images.append(pixels)
            boxes.append(scale_boxes(box, original, size))
            labels.append(np.asarray([index[name] for name, _ in objects], np.int64))
        splits[split] = Dataset(_stack(images, "voc"), boxes_array(boxes, labels, max_objects))
    return splits, names


def _voc_record(path: Path, root: Path) -> tuple[Path, list[tuple[str, list[float]]]]:
    """(image path, [(class name, [x1, y1, x2, y2])]) of one annotation file."""
    try:
        tree = ElementTree.parse(path).getroot()
        filename = tree.findtext("filename") or f"{path.stem}.jpg"
        objects = []
        for obj in tree.iter("object"):
            box = obj.find("bndbox")
            if box is None:
                raise ValueError("an object without bndbox")
            x1, y1, x2, y2 = (float(box.findtext(k, "")) for k in ("xmin", "ymin", "xmax", "ymax"))
            objects.append(((obj.findtext("name") or "").strip(), [x1 - 1, y1 - 1, x2, y2]))
    except (ElementTree.ParseError, ValueError) as error:
        raise ValueError(f"voc: {path}: {error}") from None
    return root / "JPEGImages" / filename, objects


def _voc_split_lists(root: Path, stems: list[str]) -> dict[str, list[str]]:
    lists = root / "ImageSets" / "Main"
    found = {
        split: (lists / f"{split}.txt").read_text(encoding="utf-8").split()
        for split in VOC_SPLITS
        if (lists / f"{split}.txt").is_file()
    }
    if "train" not in found:
        return {"train": stems}
    missing = sorted({s for ids in found.values() for s in ids} - set(stems))
    if missing:
        raise ValueError(f"voc: ImageSets/Main lists {missing[0]!r}, which has no annotation")
    return found


def load_coco(
    annotations: Path,
    images: Path,
    *,
    size: tuple[int, int] | None,
    channels: int = 3,
    target: str = "boxes",
    max_objects: int | None = None,
) -> tuple[Dataset, list[str]]:
    """Every image of a COCO instances file with its boxes or its semantic mask, and the
    category names.

    Raises:
        ValueError: an unreadable file, a missing image, or masks asked for without pycocotools.
    """
    try:
        data = json.loads(annotations.read_text(encoding="utf-8"))
        categories = sorted(data["categories"], key=lambda c: c["id"])
        entries = sorted(data["images"], key=lambda i: i["id"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"coco: {annotations}: {error}") from None
    index = {c["id"]: i for i, c in enumerate(categories)}
    per_image: dict[int, list[dict[str, Any]]] = {entry["id"]: [] for entry in entries}
    for ann in data.get("annotations", []):
        if not ann.get("iscrowd", 0) and ann.get("image_id") in per_image:
            per_image[ann["image_id"]].append(ann)
    pixels, boxes, labels, masks = [], [], [], []
    for entry in entries:
        image, original = _decode(images / entry["file_name"], size, channels, "coco")
        anns = per_image[entry["id"]]
        pixels.append(image)
        if target == "masks":
            masks.append(_coco_mask(anns, entry, original, size, index))
            continue
        xywh = np.asarray([a["bbox"] for a in anns], np.float32).reshape(-1, 4)
        corners = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        boxes.append(scale_boxes(corners, original, size))
        labels.append(np.asarray([index[a["category_id"]] for a in anns], np.int64))
    y = np.stack(masks) if target == "masks" else boxes_array(boxes, labels, max_objects)
    return Dataset(_stack(pixels, "coco"), y), [str(c["name"]) for c in categories]


def _coco_mask(
    anns: list[dict[str, Any]],
    entry: dict[str, Any],
    original: tuple[int, int],
    size: tuple[int, int] | None,
    index: dict[int, int],
) -> np.ndarray:
    """One image's semantic mask: 0 background, 1 + class index where an object is."""
    try:
        from pycocotools import mask as coco_mask
    except ImportError:
        raise ValueError(
            "coco: masks need pycocotools; install netlang's `detection` extra"
        ) from None
    height, width = original
    mask = np.zeros(original, np.int64)
    for ann in sorted(anns, key=lambda a: -float(a.get("area", 0))):
        segmentation = ann.get("segmentation")
        if not segmentation:
            continue
        if isinstance(segmentation, list):  # polygons
            rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE
            rle = coco_mask.frPyObjects(segmentation, height, width)
        else:
            rle = segmentation
        mask[coco_mask.decode(rle).astype(bool)] = 1 + index[ann["category_id"]]
    if size is None or size == original:
        return mask
    from PIL import Image

    resized = Image.fromarray(mask.astype(np.int32)).resize(
        (size[1], size[0]), Image.Resampling.NEAREST
    )
    return np.asarray(resized).astype(np.int64)


def _decode(
    path: Path, size: tuple[int, int] | None, channels: int, source: str
) -> tuple[np.ndarray, tuple[int, int]]:
    """An image as float32 [C, H, W] in [0, 1] (resized to `size`), and its original (H, W)."""
    from PIL import Image

    if channels not in _MODES:
        raise ValueError(f"{source}: channels={channels!r}; expected 1 or 3")
    try:
        with Image.open(path) as image:
            original = (image.height, image.width)
            array = to_pixels(image, _MODES[channels], size)[0]
    except OSError as error:
        raise ValueError(f"{source}: cannot read image {path}: {error}") from None
    return array, original


def _stack(images: list[np.ndarray], source: str) -> np.ndarray:
    if len({image.shape for image in images}) > 1:
        raise ValueError(f"{source}: the images differ in size; set size=... to resize them")
    return np.ascontiguousarray(np.stack(images), dtype=np.float32)
