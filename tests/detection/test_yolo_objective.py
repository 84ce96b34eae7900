"""YOLOv1's loss and box decoding against values worked out by hand from the paper's equation (3),
and the NMS step against torchvision's."""

from __future__ import annotations

import math

import pytest
import torch

from netlang.tasks import yolo

pytest.importorskip("torchvision")

GRID = yolo.Grid(cells=2, boxes=2, classes=2, image=(8, 8))


def _output() -> torch.Tensor:
    """[1, 2, 2, 12]: cell (row 0, col 0) holds a perfect box in predictor 1 and a poor one in 0."""
    out = torch.zeros(1, 2, 2, 2 * 5 + 2)
    out[0, 0, 0, 0:5] = torch.tensor([0.5, 0.5, 0.1, 0.1, 0.3])  # tiny box: IoU 0.04
    out[0, 0, 0, 5:10] = torch.tensor([0.5, 0.5, math.sqrt(0.5), math.sqrt(0.5), 0.6])
    out[0, 0, 0, 10:12] = torch.tensor([0.2, 0.9])  # class scores; the truth is class 1
    out[0, 1, 1, 4] = 0.2  # a confident predictor in an empty cell
    return out


def _truth() -> torch.Tensor:
    y = torch.full((1, 2, 5), -1.0)
    y[0, 0] = torch.tensor([0.0, 0.0, 4.0, 4.0, 1.0])  # centre (2, 2): cell (0, 0), w = h = 0.5
    return y


def test_loss_is_the_papers_sum_for_a_hand_worked_grid() -> None:
    loss = yolo.yolo_loss(_output(), _truth(), GRID, lambda_coord=5.0, lambda_noobj=0.5)
    # responsible: predictor 1 (IoU 1): coordinates exact (0), confidence (0.6 - 1)^2 = 0.16;
    # not responsible: predictor 0 (0.3^2) and the empty cell's (0.2^2), times 0.5;
    # classes: (0.2 - 0)^2 + (0.9 - 1)^2
    expected = 0.16 + 0.5 * (0.09 + 0.04) + (0.04 + 0.01)
    assert float(loss) == pytest.approx(expected, abs=1e-6)


def test_coordinate_errors_count_lambda_coord_times_on_square_roots() -> None:
    out = _output()
    out[0, 0, 0, 5:7] = torch.tensor([0.6, 0.5])  # x off by 0.1 cell = 0.05 of the image
    # coordinates: 5 x 0.1^2; the confidence target is now the IoU of boxes 0.05 apart
    iou = (0.5 * 0.5 - 0.1 * 0.5 / 2) / (0.5 * 0.5 + 0.1 * 0.5 / 2)  # shifted by 0.05 of the image
    expected = 5.0 * 0.01 + (0.6 - iou) ** 2 + 0.5 * (0.09 + 0.04) + 0.05
    loss = yolo.yolo_loss(out, _truth(), GRID)
    assert float(loss) == pytest.approx(expected, abs=1e-6)


def test_decode_gives_pixel_corners_scores_and_cell_classes() -> None:
    boxes, scores, classes = yolo.decode(_output(), GRID)
    assert boxes.shape == (1, 8, 4) and scores.shape == (1, 8) and classes.shape == (1, 8)
    assert boxes[0, 1].tolist() == pytest.approx([0.0, 0.0, 4.0, 4.0], abs=1e-5)
    assert float(scores[0, 1]) == pytest.approx(0.6 * 0.9)
    assert classes[0, :2].tolist() == [1, 1]
    # the empty cell (row 1, col 1), predictor 0: offsets 0 put the centre on the cell's corner
    assert boxes[0, 6].tolist() == pytest.approx([4.0, 4.0, 4.0, 4.0])


def test_suppress_is_torchvisions_batched_nms_with_a_score_floor_and_a_cap() -> None:
    from torchvision.ops import batched_nms

    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(60, 2, generator=generator) * 40
    boxes = torch.cat([corners, corners + 5 + torch.rand(60, 2, generator=generator) * 20], 1)
    scores = torch.rand(60, generator=generator)
    classes = torch.randint(0, 3, (60,), generator=generator)
    kept = yolo.suppress(boxes, scores, classes, iou=0.4, score=0.2, per_class=100)
    above = torch.nonzero(scores > 0.2).squeeze(1)
    reference = above[batched_nms(boxes[above], scores[above], classes[above], 0.4)]
    assert kept.tolist() == reference.tolist()
    capped = yolo.suppress(boxes, scores, classes, iou=0.4, score=0.2, per_class=2)
    assert max(torch.bincount(classes[capped]).tolist()) == 2


def test_an_output_without_room_for_classes_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no class scores"):
        yolo.Grid.of((1, 7, 7, 10), 2, (448, 448))
