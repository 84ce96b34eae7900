"""Pascal VOC folders and COCO instances files, written by the tests: boxes in netlang's pixel
convention, scaled with the image, and COCO masks from polygons and RLE (pycocotools)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from netlang.data import load_data
from netlang.data.targets import unpad
from netlang.semantics.train_spec import Call

VOC_XML = """<annotation>
  <filename>{name}.jpg</filename>
  <size><width>40</width><height>20</height><depth>3</depth></size>
  {objects}
</annotation>"""
VOC_OBJECT = """<object><name>{cls}</name><difficult>0</difficult>
  <bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"""


def _voc(root: Path, images: dict[str, list[tuple[str, int, int, int, int]]]) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for name, objects in images.items():
        Image.new("RGB", (40, 20), (200, 10, 10)).save(root / "JPEGImages" / f"{name}.jpg")
        body = "".join(
            VOC_OBJECT.format(cls=c, x1=x1, y1=y1, x2=x2, y2=y2) for c, x1, y1, x2, y2 in objects
        )
        (root / "Annotations" / f"{name}.xml").write_text(VOC_XML.format(name=name, objects=body))
    return root


def test_voc_boxes_become_half_open_pixel_boxes_with_sorted_class_names(tmp_path: Path) -> None:
    root = _voc(tmp_path / "voc", {"a": [("dog", 1, 1, 10, 5), ("cat", 11, 2, 40, 20)], "b": []})
    splits = load_data(Call("voc", (str(root),), {"split": 1.0}))
    assert splits.classes == ["cat", "dog"] and splits.input_shape == (3, 20, 40)
    boxes, labels = unpad(splits.train.y[0])
    assert boxes.tolist() == [[0, 0, 10, 5], [10, 1, 40, 20]] and labels.tolist() == [1, 0]
    assert len(unpad(splits.train.y[1])[0]) == 0
    assert splits.train.x[0, 0].mean() == pytest.approx(200 / 255, abs=0.02)


def test_voc_resizing_scales_the_boxes_and_image_sets_pick_the_splits(tmp_path: Path) -> None:
    root = _voc(tmp_path / "voc", {"a": [("dog", 1, 1, 40, 20)], "b": [("dog", 21, 11, 40, 20)]})
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("a\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("b\n")
    splits = load_data(Call("voc", (str(root),), {"size": [10, 20]}))
    assert len(splits.train) == 1 and len(splits.val) == 1 and splits.input_shape == (3, 10, 20)
    assert unpad(splits.val.y[0])[0].tolist() == [[10, 5, 20, 10]]


def test_voc_reports_a_class_outside_the_given_list(tmp_path: Path) -> None:
    root = _voc(tmp_path / "voc", {"a": [("dog", 1, 1, 4, 4)]})
    with pytest.raises(ValueError, match="'dog'"):
        load_data(Call("voc", (str(root),), {"classes": ["cat"], "split": 1.0}))


def _coco(root: Path, annotations: list[dict]) -> tuple[Path, Path]:
    (root / "images").mkdir(parents=True)
    Image.new("L", (16, 8), 128).save(root / "images" / "one.png")
    Image.new("L", (16, 8), 0).save(root / "images" / "two.png")
    data = {
        "images": [
            {"id": 7, "file_name": "one.png", "width": 16, "height": 8},
            {"id": 9, "file_name": "two.png", "width": 16, "height": 8},
        ],
        "categories": [{"id": 5, "name": "zebra"}, {"id": 2, "name": "bee"}],
        "annotations": annotations,
    }
    (root / "instances.json").write_text(json.dumps(data))
    return root / "instances.json", root / "images"


def _rle(mask: np.ndarray) -> dict:
    """Uncompressed RLE written by hand: run lengths of the column-major pixels, zeros first."""
    flat, runs, current, length = mask.flatten(order="F"), [], 0, 0
    for value in flat:
        if value != current:
            runs.append(length)
            current, length = value, 0
        length += 1
    return {"size": list(mask.shape), "counts": [*runs, length]}


def test_coco_boxes_use_category_order_and_skip_crowds(tmp_path: Path) -> None:
    annotations, images = _coco(
        tmp_path,
        [
            {"id": 1, "image_id": 7, "category_id": 5, "bbox": [1, 2, 3, 4], "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 2, "bbox": [0, 0, 16, 8], "iscrowd": 1},
            {"id": 3, "image_id": 9, "category_id": 2, "bbox": [8, 0, 8, 8], "iscrowd": 0},
        ],
    )
    splits = load_data(
        Call("coco", (str(annotations), str(images)), {"channels": 1, "size": 16, "split": 1.0})
    )
    assert splits.classes == ["bee", "zebra"] and splits.input_shape == (1, 16, 16)
    first, second = (unpad(row) for row in splits.train.y)
    assert first[0].tolist() == [[1, 4, 4, 12]] and first[1].tolist() == [1]
    assert second[0].tolist() == [[8, 0, 16, 16]] and second[1].tolist() == [0]


def test_coco_masks_from_rle_and_polygons(tmp_path: Path) -> None:
    pytest.importorskip("pycocotools")
    blob = np.zeros((8, 16), np.uint8)
    blob[1:4, 2:7] = 1
    annotations, images = _coco(
        tmp_path,
        [
            {"id": 1, "image_id": 7, "category_id": 2, "bbox": [2, 1, 5, 3], "area": 15,
             "segmentation": _rle(blob), "iscrowd": 0},
            {"id": 2, "image_id": 9, "category_id": 5, "bbox": [8, 2, 6, 4], "area": 24,
             "segmentation": [[8, 2, 14, 2, 14, 6, 8, 6]], "iscrowd": 0},
        ],
    )  # fmt: skip
    splits = load_data(
        Call("coco", (str(annotations), str(images)), {"target": "masks", "split": 1.0})
    )
    assert splits.classes == ["background", "bee", "zebra"]
    rle_mask, polygon_mask = splits.train.y
    np.testing.assert_array_equal(rle_mask, blob.astype(np.int64))  # class 1 = bee
    rows, cols = np.nonzero(polygon_mask)
    assert set(polygon_mask[rows, cols]) == {2}
    # the polygon covers x in [8, 14], y in [2, 6]: pixel centres inside it, give or take an edge
    assert cols.min() >= 8 and cols.max() <= 14 and rows.min() >= 2 and rows.max() <= 6
    assert 24 <= len(rows) <= 35
