"""Device choice: a `--device` word ("auto", "cpu", "cuda", "tensorrt") -> onnxruntime providers.

onnxruntime-gpu lists the CUDA and TensorRT providers even on hosts without a GPU or CUDA
libraries, and when such a provider fails to load it prints errors and quietly runs on CPU. So a
provider counts as usable only after a trial session on a one-node model actually got it, with
onnxruntime's logging silenced for the trial; an explicit request that cannot be met is an error,
never a CPU fallback.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import onnxruntime as ort

DEVICES = ("auto", "cpu", "cuda", "tensorrt")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
_ORT_FATAL = 4  # onnxruntime log severity: only fatal messages
_ORT_WARNING = 2  # onnxruntime's default severity


class DeviceError(RuntimeError):
    """The requested device cannot be used on this host."""


@contextmanager
def quiet_onnxruntime() -> Iterator[None]:
    """Silence onnxruntime's default logger (provider-load errors go through it)."""
    ort.set_default_logger_severity(_ORT_FATAL)
    try:
        yield
    finally:
        ort.set_default_logger_severity(_ORT_WARNING)


@functools.cache
def _probe_model() -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return model.SerializeToString()


@functools.cache
def provider_usable(provider: str) -> bool:
    """True when a session asking for `provider` really gets it (libraries load, a GPU exists)."""
    if provider == CPU:
        return True
    if provider not in ort.get_available_providers():
        return False
    if hasattr(ort, "preload_dlls"):  # CUDA/cuDNN from pip-installed nvidia-* wheels, if any
        ort.preload_dlls()
    options = ort.SessionOptions()
    options.log_severity_level = _ORT_FATAL
    with quiet_onnxruntime():
        try:
            session = ort.InferenceSession(_probe_model(), options, providers=[provider, CPU])
        except Exception:  # noqa: BLE001 - any failure to build the session means "not usable"
            return False
    return session.get_providers()[0] == provider


def providers_for(device: str) -> list[str]:
    """The provider list for a `--device` word, raising DeviceError when it cannot be honoured."""
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if device == "cpu":
        return [CPU]
    if device == "auto":
        return [CUDA, CPU] if provider_usable(CUDA) else [CPU]
    if not provider_usable(CUDA):
        raise DeviceError(
            f"--device {device} was requested but CUDA is not usable here: onnxruntime's CUDA "
            "provider could not load (no NVIDIA GPU/driver, or CUDA/cuDNN libraries missing)"
        )
    if device == "tensorrt":
        if not provider_usable(TENSORRT):
            raise DeviceError(
                "--device tensorrt was requested but onnxruntime's TensorRT provider could not "
                "load (TensorRT libraries missing)"
            )
        return [TENSORRT, CUDA, CPU]
    return [CUDA, CPU]
