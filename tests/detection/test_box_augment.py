"""Augmentations move the boxes with the pixels: after hflip and translate, every box is still
the tight box of its digit's (equally augmented) mask, or, where the shift cut the digit at the
border, the original box clipped to the image, which holds what is left of the mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netlang.data import load_data, make_loader
from netlang.data.box_augment import make_paired_augment
from netlang.semantics.train_spec import Call

CALLS = [Call("hflip", (), {"p": 0.5}), Call("translate", (12,))]


def _scenes(target: str):
    return load_data(Call("digit_scenes", (), {"count": 40, "objects": 1, "target": target}))


def _augmented(target: str) -> tuple[torch.Tensor, torch.Tensor]:
    splits = _scenes(target)
    augment = make_paired_augment(CALLS, target)
    batches = make_loader(splits.train, 64, shuffle=False, seed=5, augment=augment)
    return next(iter(batches))


def test_boxes_stay_the_tight_boxes_of_the_moved_masks() -> None:
    x_boxes, boxes = _augmented("boxes")
    x_masks, masks = _augmented("masks")
    torch.testing.assert_close(x_boxes, x_masks)  # the same draws for both
    moved = 0
    for row, mask, original in zip(boxes, masks, _scenes("boxes").train.y):
        rows, cols = torch.nonzero(mask, as_tuple=True)
        if len(rows) == 0:  # pushed out of the image: the box became padding
            assert (row[0] == -1).all()
            continue
        tight = [float(v) for v in (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)]
        box = row[0, :4].tolist()
        if box[0] > 0 and box[1] > 0 and box[2] < mask.shape[1] and box[3] < mask.shape[0]:
            assert box == tight
        else:
            assert box[0] <= tight[0] and box[1] <= tight[1]
            assert box[2] >= tight[2] and box[3] >= tight[3]
        assert row[0, 4] == int(mask[rows[0], cols[0]]) - 1
        moved += not np.array_equal(row[0].numpy(), original[0])
    assert moved > 20


def test_hflip_with_p_1_mirrors_box_corners() -> None:
    y = torch.tensor([[[1.0, 2.0, 5.0, 6.0, 3.0], [-1, -1, -1, -1, -1]]])
    augment = make_paired_augment([Call("hflip", (1.0,))], "boxes")
    x, flipped = augment(torch.zeros(1, 1, 8, 10), y, torch.Generator().manual_seed(0))
    assert flipped.tolist() == [[[5.0, 2.0, 9.0, 6.0, 3.0], [-1, -1, -1, -1, -1]]]


def test_an_augmentation_that_cannot_move_boxes_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot move boxes"):
        make_paired_augment([Call("rotate", (10,))], "boxes")
