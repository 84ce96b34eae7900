"""YOLOv1's objective and its box decoding: grid output [N, S, S, 5B + C] + padded boxes
[N, M, 5] -> the paper's sum-squared loss; grid -> boxes, scores, classes -> NMS.

The loss is equation (3) of Redmon et al. (CVPR 2016): the predictor "responsible" for an object
is, in the cell that holds the object's centre, the one of the B boxes with the highest IoU with
it; coordinates count lambda_coord times, with square roots of width and height; a responsible
predictor's confidence is pulled to its IoU, every other one to 0 with weight lambda_noobj; class
scores are squared errors against the one-hot class in cells with an object. Summed over the
grid, averaged over the batch. A cell with several object centres keeps the last one, as the
paper's one-class-per-cell head must.

Decoding (the exported ONNX model does the same with ONNX ops, `netlang.export.detection`): box
centre (col + x) / S, (row + y) / S, size w^2, h^2 of the image, clipped to the image; each box
takes its cell's best class, scored confidence x class score, clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Grid:
    """The head's layout: S x S cells, B boxes per cell, C classes, over an (H, W) image."""

    cells: int
    boxes: int
    classes: int
    image: tuple[int, int]

    @staticmethod
    def of(output_shape: tuple[int, ...], boxes: int, image: tuple[int, int]) -> Grid:
        """The layout of a [N, S, S, 5B + C] output; ValueError if it is not one."""
        if len(output_shape) != 4 or output_shape[1] != output_shape[2]:
            raise ValueError(f"yolo needs an [N, S, S, 5B + C] output, got {list(output_shape)}")
        classes = int(output_shape[3]) - 5 * boxes
        if classes < 1:
            raise ValueError(
                f"yolo: an output of depth {output_shape[3]} leaves no class scores for "
                f"boxes={boxes} (depth = 5 * boxes + classes)"
            )
        return Grid(int(output_shape[1]), boxes, classes, image)


def targets(y: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded boxes [N, M, 5] (pixels) -> (object mask [N, S, S], boxes [N, S, S, 4] as
    (cell x, cell y, w, h) with w, h relative to the image, class ids [N, S, S])."""
    n, s = y.shape[0], grid.cells
    height, width = grid.image
    obj = torch.zeros(n, s, s, dtype=torch.bool, device=y.device)
    box = torch.zeros(n, s, s, 4, dtype=torch.float32, device=y.device)
    cls = torch.zeros(n, s, s, dtype=torch.long, device=y.device)
    scale = torch.tensor([width, height, width, height], dtype=torch.float32, device=y.device)
    for m in range(y.shape[1]):  # later objects overwrite earlier ones in a shared cell
        valid = y[:, m, 4] >= 0
        corners = y[:, m, :4].float() / scale
        centre = (corners[:, :2] + corners[:, 2:]) / 2
        size = (corners[:, 2:] - corners[:, :2]).clamp(min=0)
        cell = (centre * s).floor().clamp(0, s - 1).long()
        index = torch.nonzero(valid).squeeze(1)
        col, row = cell[index, 0], cell[index, 1]
        obj[index, row, col] = True
        offsets = centre[index] * s - cell[index].float()
        box[index, row, col] = torch.cat([offsets, size[index]], 1)
        cls[index, row, col] = y[index, m, 4].long()
    return obj, box, cls


def yolo_loss(
    out: torch.Tensor,
    y: torch.Tensor,
    grid: Grid,
    lambda_coord: float = 5.0,
    lambda_noobj: float = 0.5,
) -> torch.Tensor:
    """The paper's loss for a batch (mean over images)."""
    out = out.float()
    n, s, b = out.shape[0], grid.cells, grid.boxes
    obj, box, cls = targets(y, grid)
    pred = out[..., : 5 * b].reshape(n, s, s, b, 5)
    with torch.no_grad():
        truth = _cell_corners(_truth_as_pred(box), s)[..., None, :]
        iou = _iou(_cell_corners(pred[..., :4], s), truth)
        best = iou.argmax(-1)
    responsible = obj[..., None] & torch.nn.functional.one_hot(best, b).bool()
    r = responsible.float()
    xy = (pred[..., :2] - box[..., None, :2]).pow(2).sum(-1)
    wh = (pred[..., 2:4] - box[..., None, 2:].sqrt()).pow(2).sum(-1)
    conf = pred[..., 4]
    one_hot = torch.nn.functional.one_hot(cls, grid.classes).float()
    class_error = (out[..., 5 * b :] - one_hot).pow(2).sum(-1) * obj.float()
    total = (
        lambda_coord * (r * (xy + wh)).sum()
        + (r * (conf - iou) ** 2).sum()
        + lambda_noobj * ((1 - r) * conf**2).sum()
        + class_error.sum()
    )
    return total / n


def _truth_as_pred(box: torch.Tensor) -> torch.Tensor:
    """Targets (cell x, cell y, w, h) in the predictions' form (cell x, cell y, sqrt w, sqrt h)."""
    return torch.cat([box[..., :2], box[..., 2:].sqrt()], -1)


def _cell_corners(p: torch.Tensor, cells: int) -> torch.Tensor:
    """(cell x, cell y, sqrt w, sqrt h) -> corners in image units, from the cell's origin (the
    IoU compares boxes of one cell, so the origin cancels)."""
    centre, size = p[..., :2] / cells, p[..., 2:4] ** 2
    return torch.cat([centre - size / 2, centre + size / 2], -1)


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of corner boxes [..., 4], broadcast."""
    low = torch.maximum(a[..., :2], b[..., :2])
    high = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (high - low).clamp(min=0).prod(-1)
    area = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1) + (b[..., 2:] - b[..., :2]).clamp(
        min=0
    ).prod(-1)
    return inter / (area - inter).clamp(min=1e-9)


def decode(out: torch.Tensor, grid: Grid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grid output [N, S, S, 5B + C] -> boxes [N, K, 4] (x1, y1, x2, y2 pixels), scores [N, K],
    classes [N, K], K = S * S * B, in cell-major, box-minor order."""
    n, s, b = out.shape[0], grid.cells, grid.boxes
    height, width = grid.image
    out = out.float()
    pred = out[..., : 5 * b].reshape(n, s, s, b, 5)
    steps = torch.arange(s, dtype=torch.float32, device=out.device)
    cx = (pred[..., 0] + steps[None, None, :, None]) / s * width
    cy = (pred[..., 1] + steps[None, :, None, None]) / s * height
    w, h = pred[..., 2] ** 2 * width, pred[..., 3] ** 2 * height
    limit = torch.tensor([width, height, width, height], dtype=torch.float32, device=out.device)
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)
    boxes = torch.minimum(boxes.clamp(min=0), limit)
    best, classes = out[..., 5 * b :].max(-1)
    scores = (pred[..., 4] * best[..., None]).clamp(0, 1)
    return (
        boxes.reshape(n, -1, 4),
        scores.reshape(n, -1),
        classes[..., None].expand(n, s, s, b).reshape(n, -1),
    )


def suppress(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    classes: torch.Tensor,
    *,
    iou: float,
    score: float,
    per_class: int,
) -> torch.Tensor:
    """Indices kept by per-class non-maximum suppression (torchvision's), best first: boxes
    scoring above `score`, at most `per_class` of each class (ONNX NonMaxSuppression's rule)."""
    from torchvision.ops import batched_nms

    candidates = torch.nonzero(scores > score).squeeze(1)
    kept = candidates[batched_nms(boxes[candidates], scores[candidates], classes[candidates], iou)]
    counts: dict[int, int] = {}
    selected = []
    for i in kept.tolist():
        c = int(classes[i])
        if counts.get(c, 0) < per_class:
            counts[c] = counts.get(c, 0) + 1
            selected.append(i)
    return torch.tensor(selected, dtype=torch.long, device=boxes.device)
