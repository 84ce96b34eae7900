"""Prediction: a session + a batch of inputs -> top-k (label, probability) per row.

The classifier's first output is read as [N, classes]. Rows that already are probability
distributions (non-negative, summing to 1) are used as they are; anything else is taken as logits
and put through a softmax.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from netlang.runtime.session import ModelInfo


@dataclass(frozen=True, slots=True)
class Guess:
    label: str
    index: int
    probability: float


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shifted by the row max for stability."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def as_probabilities(scores: np.ndarray) -> np.ndarray:
    """Scores -> probabilities: kept when every row is already a distribution, else softmax."""
    scores = scores.astype(np.float64)
    if np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4):
        return scores
    return softmax(scores)


def top_k(probabilities: np.ndarray, k: int, classes: tuple[str, ...] | None) -> list[list[Guess]]:
    """The k most probable classes of each row, best first (ties keep the lower index first)."""
    k = min(k, probabilities.shape[1])
    rows = []
    for row in probabilities:
        order = np.argsort(-row, kind="stable")[:k]
        rows.append(
            [Guess(classes[i] if classes else str(i), int(i), float(row[i])) for i in order]
        )
    return rows


def predict(
    session: ort.InferenceSession,
    info: ModelInfo,
    batch: np.ndarray | dict[str, np.ndarray],
    k: int = 5,
) -> list[list[Guess]]:
    """Run a classifier on `batch` (its one input's, or a batch per input name) and return its
    top-k guesses per row."""
    feeds = batch if isinstance(batch, dict) else {info.signature.inputs[0].name: batch}
    name = info.signature.outputs[0].name
    (scores,) = session.run([name], feeds)
    return guesses(scores, name, info.classes, k)


def guesses(
    scores: np.ndarray, name: str, classes: tuple[str, ...] | None, k: int = 5
) -> list[list[Guess]]:
    """The top-k guesses per row of the classifier output `name` ([N, classes] scores), labelled
    by `classes` (which must then name every class)."""
    if k < 1:
        raise ValueError("top-k must be at least 1")
    if scores.ndim != 2:
        raise ValueError(
            f"predict needs a classifier output [N, classes]; {name!r} "
            f"has shape {list(scores.shape)}"
        )
    if classes is not None and len(classes) != scores.shape[1]:
        raise ValueError(
            f"model metadata names {len(classes)} classes but the output has {scores.shape[1]}"
        )
    return top_k(as_probabilities(scores), k, classes)
