"""Loading: an ONNX file + a device word -> an onnxruntime session, and its netlang metadata.

`make_session` fails loudly when an explicitly requested accelerator is unavailable; `model_info`
reads the metadata our exporter writes ("netlang.classes", "netlang.preprocess" -- an image recipe,
or a feature-vector model's statistics --, "netlang.model", "netlang.version", "netlang.tokenizer",
"netlang.task") and tolerates files that carry none of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from netlang.runtime.device import DeviceError, providers_for
from netlang.runtime.signature import Signature, signature_of_session


@dataclass(frozen=True, slots=True)
class Preprocess:
    """How an image becomes the model's input: resize, C channels, scale to [0, 1], standardise
    (the last step by the graph itself when `in_graph`, as in every model netlang exports)."""

    size: tuple[int, int]  # (H, W)
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_graph: bool = False


@dataclass(frozen=True, slots=True)
class Standardize:
    """Per-feature statistics of a feature-vector model ("netlang.preprocess" without a size):
    a raw [N, F, ...] input becomes (x - mean) / std along axis 1, unless the graph does it."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_graph: bool = False


@dataclass(frozen=True, slots=True)
class ModelInfo:
    signature: Signature
    classes: tuple[str, ...] | None
    preprocess: Preprocess | None
    model: str | None  # "netlang.model": the source model's name
    version: str | None  # "netlang.version": the netlang release that exported it
    standardize: Standardize | None = None  # a feature-vector model's statistics
    tokenizer: dict[str, Any] | None = None  # "netlang.tokenizer": text -> token ids
    task: str | None = None  # "netlang.task": classification, regression, reconstruction, ...
    detection: dict[str, Any] | None = None  # "netlang.detection": grid and NMS settings


def make_session(
    path: str | Path, device: str = "auto", *, intra_op_threads: int = 0, spinning: bool = True
) -> ort.InferenceSession:
    """An inference session on `device`; `session.get_providers()[0]` is the provider that runs.
    `spinning=False` lets onnxruntime's idle intra-op threads sleep instead of spin-waiting for
    the next call: a server needs those cycles for its requests between calls."""
    providers = providers_for(device)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=providers)
    except (ort_state.InvalidProtobuf, ort_state.InvalidArgument, ort_state.InvalidGraph) as bad:
        reason = re.sub(r"^\[ONNXRuntimeError\].*? failed:", "", str(bad)).strip().rstrip(".")
        raise ValueError(
            f"{path} is not an ONNX model onnxruntime can load ({reason}): a file cut short, "
            "or another kind of file? Write it again with `netlang export` or `netlang compile`"
        ) from None
    if session.get_providers()[0] != providers[0]:
        raise DeviceError(f"onnxruntime could not put this model on {providers[0]}")
    return session


def provider_of(session: ort.InferenceSession) -> str:
    """The execution provider that runs the session's nodes first."""
    return str(session.get_providers()[0])


def model_info(session: ort.InferenceSession) -> ModelInfo:
    """Signature plus the netlang metadata of the session's model."""
    metadata = session.get_modelmeta().custom_metadata_map
    return ModelInfo(
        signature=signature_of_session(session),
        classes=_classes(metadata.get("netlang.classes")),
        preprocess=_preprocess(metadata.get("netlang.preprocess")),
        standardize=_standardize(metadata.get("netlang.preprocess")),
        model=metadata.get("netlang.model"),
        version=metadata.get("netlang.version"),
        tokenizer=_tokenizer(metadata.get("netlang.tokenizer")),
        task=metadata.get("netlang.task"),
        detection=_json("netlang.detection", metadata["netlang.detection"])
        if "netlang.detection" in metadata
        else None,
    )


def _tokenizer(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    spec = _json("netlang.tokenizer", text)
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError("model metadata 'netlang.tokenizer' must be a JSON object with a kind")
    return spec


def _json(key: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"model metadata {key!r} is not valid JSON: {e}") from None


def _standardize(text: str | None) -> Standardize | None:
    spec = None if text is None else _json("netlang.preprocess", text)
    if not isinstance(spec, dict) or "size" in spec or "mean" not in spec:
        return None
    try:
        mean = tuple(float(v) for v in spec["mean"])
        std = tuple(float(v) for v in spec["std"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"model metadata 'netlang.preprocess' is malformed: {e!r}") from None
    if len(mean) != len(std) or 0.0 in std:
        raise ValueError("model metadata 'netlang.preprocess' needs one non-zero std per mean")
    return Standardize(mean, std, bool(spec.get("in_graph", False)))


def _classes(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    classes = _json("netlang.classes", text)
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ValueError("model metadata 'netlang.classes' must be a JSON list of strings")
    return tuple(classes)


def _preprocess(text: str | None) -> Preprocess | None:
    if text is None:
        return None
    spec = _json("netlang.preprocess", text)
    if isinstance(spec, dict) and "size" not in spec:
        return None  # not an image recipe: feature statistics (`_standardize`)
    try:
        height, width = (int(v) for v in spec["size"])
        channels = int(spec.get("channels", 3))
        mean = tuple(float(v) for v in spec.get("mean", [0.0] * channels))
        std = tuple(float(v) for v in spec.get("std", [1.0] * channels))
        in_graph = bool(spec.get("in_graph", False))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"model metadata 'netlang.preprocess' is malformed: {e!r}") from None
    if channels not in (1, 3) or len(mean) != channels or len(std) != channels or 0.0 in std:
        raise ValueError(
            "model metadata 'netlang.preprocess' needs channels 1 or 3 and one non-zero "
            "mean/std per channel"
        )
    return Preprocess((height, width), channels, mean, std, in_graph)
