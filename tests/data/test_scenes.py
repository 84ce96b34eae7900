"""The built-in digit scenes: seeded, boxes tight around the masks, splits on disjoint digits."""

from __future__ import annotations

import numpy as np
import pytest

from netlang.data import load_data
from netlang.data.scenes import SceneSpec, render_scenes, scene_splits
from netlang.data.targets import unpad
from netlang.semantics.train_spec import Call


def _scenes(**kwargs: object):
    return load_data(Call("digit_scenes", (), {"count": 60, **kwargs}), seed=3)


def test_the_same_seed_draws_the_same_scenes_and_another_seed_others() -> None:
    a, b = _scenes(), _scenes()
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.train.y, b.train.y)
    other = load_data(Call("digit_scenes", (), {"count": 60}), seed=4)
    assert not np.array_equal(a.train.x, other.train.x)


def test_splits_have_the_asked_sizes_and_the_image_shape() -> None:
    splits = _scenes(split=[0.5, 0.25, 0.25], size=[48, 64])
    assert [len(splits.train), len(splits.val), len(splits.test)] == [30, 15, 15]
    assert splits.input_shape == (1, 48, 64) and splits.train.y.shape == (30, 3, 5)


def test_each_box_is_the_tight_box_of_its_digit_mask() -> None:
    boxes = _scenes(objects=1)
    masks = _scenes(objects=1, target="masks")
    assert masks.classes == ["background", *boxes.classes]
    for row, mask in zip(boxes.train.y, masks.train.y):
        box, label = unpad(row)
        assert len(box) == 1
        rows, cols = np.nonzero(mask)
        assert box[0].tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
        assert set(np.unique(mask[mask > 0])) == {1 + label[0]}


def test_digits_do_not_overlap_and_every_pixel_of_a_digit_is_in_the_image() -> None:
    splits = _scenes(objects=[2, 4], scale=[10, 20], max_objects=4)
    for image, row in zip(splits.train.x, splits.train.y):
        boxes, _ = unpad(row)
        assert 1 <= len(boxes) <= 4
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                overlap = min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
                assert not overlap
        ink = image[0] > 0.3  # above the mask level of any digit (peaks are at most 1)
        covered = np.zeros_like(ink)
        for x1, y1, x2, y2 in boxes.astype(int):
            covered[y1:y2, x1:x2] = True
        assert not (ink & ~covered).any()


def test_train_and_test_scenes_paste_disjoint_digits() -> None:
    # 40 flat "digits" of 4 classes, each with its own grey level, tell which digit was pasted
    digits = np.stack([np.full((8, 8), (k + 1) / 40) for k in range(40)]).astype(np.float32)
    parts = scene_splits(
        digits, np.arange(40) % 4, count=40, fractions=(0.5, 0.0, 0.5), spec=SceneSpec(), seed=1
    )
    train, val, test = parts
    assert val is None and train is not None and test is not None
    levels = [set(np.round(np.unique(s.x) * 40).astype(int)) - {0} for s in (train, test)]
    assert levels[0] and levels[1] and not levels[0] & levels[1]


def test_render_scenes_pastes_only_the_given_digits() -> None:
    digits = np.ones((5, 8, 8), np.float32)
    scenes = render_scenes(digits, np.arange(5), 20, SceneSpec(objects=(3, 3)), seed=0)
    assert {int(c) for labels in scenes.labels for c in labels} <= set(range(5))
    assert all(len(b) == len(c) for b, c in zip(scenes.boxes, scenes.labels))


def test_a_bad_argument_is_a_located_value_error() -> None:
    with pytest.raises(ValueError, match="objects"):
        _scenes(objects=[3, 1])
    with pytest.raises(ValueError, match="target"):
        _scenes(target="points")
