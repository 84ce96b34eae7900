"""The train section's task: declared or inferred from the loss and the data's target, and
checked against the targets the data brings (a located error at `check` is tested in
tests/golden/errors/task_output_mismatch.net)."""

from __future__ import annotations

import pytest

from netlang.semantics.train_spec import Call, TrainSpec
from netlang.train.config import resolve_config


def test_the_task_is_inferred_and_its_data_must_bring_its_targets() -> None:
    def resolve(**entries: object):
        return resolve_config(TrainSpec("M", dict(entries)), "M")

    assert resolve(loss=Call("yolo")).task == "detection"
    masks = Call("digit_scenes", (), {"target": "masks"})
    assert resolve(data=masks).task == "segmentation"
    assert resolve(data=masks, loss=Call("dice")).task == "segmentation"
    with pytest.raises(ValueError, match='target="boxes"'):
        resolve(data=masks, loss=Call("yolo"))
    with pytest.raises(ValueError, match="gives class labels"):
        resolve(data=Call("digits"), task=Call("segmentation"))
    with pytest.raises(ValueError, match="trains with yolo"):
        resolve(task=Call("detection"), loss=Call("mse"))
