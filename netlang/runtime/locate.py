"""Detection and segmentation at run time: a session whose model ends in boxes (or a mask) + a
batch -> per-image detections or masks, read from the model's named outputs.

A detector exported by netlang returns `boxes`, `scores`, `classes` and `batch_index` (the
ONNX graph decodes and suppresses; see netlang.export.detection); a segmenter returns `mask`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from netlang.runtime.session import ModelInfo

DETECTION_OUTPUTS = ("boxes", "scores", "classes", "batch_index")


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    index: int
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in input pixels


def task_kind(info: ModelInfo) -> str:
    """The task the model was trained for ("netlang.task"), "classification" when unsaid."""
    return info.task or "classification"


def detect(
    session: ort.InferenceSession, info: ModelInfo, batch: np.ndarray
) -> list[list[Detection]]:
    """Each image's detections, best first."""
    (spec,) = info.signature.inputs
    boxes, scores, classes, images = session.run(list(DETECTION_OUTPUTS), {spec.name: batch})
    found: list[list[Detection]] = [[] for _ in range(len(batch))]
    for box, score, index, image in zip(boxes, scores, classes, images):
        name = info.classes[int(index)] if info.classes else str(int(index))
        found[int(image)].append(
            Detection(name, int(index), float(score), tuple(float(v) for v in box))  # type: ignore[arg-type]
        )
    return [sorted(row, key=lambda d: -d.score) for row in found]


def segment(session: ort.InferenceSession, info: ModelInfo, batch: np.ndarray) -> np.ndarray:
    """Each image's mask of class ids, int64 [N, H, W]."""
    (spec,) = info.signature.inputs
    (mask,) = session.run(["mask"], {spec.name: batch})
    return np.asarray(mask)
