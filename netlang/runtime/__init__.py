"""Inference runtime: exported ONNX file -> onnxruntime session on a chosen device -> predictions.

Stages, in order: `device` (which provider can run), `session` (load + netlang metadata),
`preprocess` (files -> input batch), `predict` (batch -> top-k labels). Imports onnxruntime, so
only `netlang predict`/`serve` and user code import this package. It reads only the ONNX file
and its metadata: it imports nothing of the compiler (text models use the data layer's tokenizer,
netlang.data.tokenize, the one training fitted).
"""

from __future__ import annotations

from netlang.runtime.device import DeviceError, providers_for
from netlang.runtime.outputs import is_classifier, write_outputs
from netlang.runtime.predict import Guess, guesses, predict
from netlang.runtime.preprocess import load_input, load_texts
from netlang.runtime.session import ModelInfo, Preprocess, make_session, model_info, provider_of

__all__ = [
    "DeviceError",
    "Guess",
    "guesses",
    "is_classifier",
    "write_outputs",
    "ModelInfo",
    "Preprocess",
    "load_input",
    "load_texts",
    "make_session",
    "model_info",
    "predict",
    "provider_of",
    "providers_for",
]
