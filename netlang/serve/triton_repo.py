"""Triton model repository: an ONNX file -> REPO/NAME/config.pbtxt + REPO/NAME/1/model.onnx.

The config is derived from the graph's signature with Triton's rules: if every input and output
has a variable dim 0 and a positive `max_batch_size` is asked for, dim 0 is the batch dim
(`dims` drop it, dynamic batching is on); otherwise `max_batch_size: 0` and `dims` are the full
shape. Other variable dims are -1. The same dict, as JSON, answers `netlang serve`'s /config.
The text is written here (no protobuf at run time); tests parse it with Triton's own schema.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Any

from netlang.runtime.signature import Signature, TensorSpec, signature_of_onnx

PLATFORM = "onnxruntime_onnx"
INSTANCE_KINDS = {"gpu": "KIND_GPU", "cpu": "KIND_CPU"}
LABELS_FILE = "labels.txt"  # one class name a line, next to config.pbtxt
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def check_model_name(name: str) -> str:
    """A model name is a URL path segment and a directory name: [A-Za-z0-9_.-]+, not . or .."""
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"invalid model name {name!r}: use letters, digits, '_', '.', '-'")
    return name


def ascii_name(text: str) -> str:
    """A valid model name close to `text` (accents dropped, other characters `_`)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", plain).strip("._") or "model"


def model_config(
    signature: Signature,
    name: str,
    max_batch_size: int,
    instance_kind: str,
    max_queue_delay_us: int = 0,
    *,
    classes: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Triton's ModelConfig as a plain dict (JSON field names, numeric dims); with `classes`, the
    first output whose last dim has one entry per class names LABELS_FILE as its labels (for the
    classification extension)."""
    if instance_kind not in INSTANCE_KINDS:
        raise ValueError(f"instance kind must be one of {', '.join(INSTANCE_KINDS)}")
    if max_batch_size < 0:
        raise ValueError("max_batch_size must be >= 0")
    batching = max_batch_size > 0 and signature.batchable

    def tensor(spec: TensorSpec) -> dict[str, Any]:
        dims = spec.v2_shape[1:] if batching else spec.v2_shape
        if not dims:
            raise ValueError(f"tensor {spec.name!r} has no dims left for Triton (rank 0)")
        return {"name": spec.name, "data_type": spec.datatype.triton, "dims": dims}

    config: dict[str, Any] = {
        "name": check_model_name(name),
        "platform": PLATFORM,
        "max_batch_size": max_batch_size if batching else 0,
        "input": [tensor(t) for t in signature.inputs],
        "output": [tensor(t) for t in signature.outputs],
    }
    for output, spec in zip(config["output"], signature.outputs, strict=True):
        if classes is not None and spec.shape and spec.shape[-1] == len(classes):
            output["label_filename"] = LABELS_FILE
            break
    if batching:
        config["dynamic_batching"] = {"max_queue_delay_microseconds": max_queue_delay_us}
    config["instance_group"] = [{"count": 1, "kind": INSTANCE_KINDS[instance_kind]}]
    return config


def config_pbtxt(config: dict[str, Any]) -> str:
    """Protobuf text format of a `model_config` dict."""
    return "".join(_field(key, value, 0) for key, value in config.items())


def _field(key: str, value: Any, depth: int) -> str:
    pad = "  " * depth
    if isinstance(value, dict):
        body = "".join(_field(k, v, depth + 1) for k, v in value.items())
        return f"{pad}{key} {{\n{body}{pad}}}\n"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        items = ",\n".join(
            f"{pad}  {{\n"
            + "".join(_field(k, v, depth + 2) for k, v in item.items())
            + f"{pad}  }}"
            for item in value
        )
        return f"{pad}{key} [\n{items}\n{pad}]\n"
    return f"{pad}{key}: {_scalar(value)}\n"


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return "[ " + ", ".join(_scalar(v) for v in value) + " ]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.startswith(("TYPE_", "KIND_")):
        return value  # enum value
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_of_onnx(
    model: Any, name: str, max_batch_size: int, instance_kind: str, max_queue_delay_us: int = 0
) -> dict[str, Any]:
    """`model_config` of an ONNX model (an `onnx.ModelProto`), by its signature and metadata: a
    detector's outputs are rows over the whole batch (`batch_index` says whose), so it gets no
    Triton batching whatever `max_batch_size` asks."""
    props = {p.key: p.value for p in model.metadata_props}
    if props.get("netlang.task") == "detection":
        max_batch_size = 0
    return model_config(
        signature_of_onnx(model),
        name,
        max_batch_size,
        instance_kind,
        max_queue_delay_us,
        classes=_classes(model),
    )


def _classes(model: Any) -> tuple[str, ...] | None:
    props = {p.key: p.value for p in model.metadata_props}
    return tuple(json.loads(props["netlang.classes"])) if "netlang.classes" in props else None


def write_triton_repo(
    onnx_path: str | Path,
    repo_dir: str | Path,
    name: str,
    max_batch_size: int,
    instance_kind: str,
    *,
    max_queue_delay_us: int = 0,
) -> Path:
    """Write REPO/NAME/config.pbtxt and REPO/NAME/1/model.onnx; return the model directory."""
    import onnx

    onnx_path = Path(onnx_path)
    model = onnx.load(str(onnx_path), load_external_data=False)
    config = config_of_onnx(model, name, max_batch_size, instance_kind, max_queue_delay_us)
    classes = _classes(model)
    model_dir = Path(repo_dir) / check_model_name(name)
    version_dir = model_dir / "1"
    version_dir.mkdir(parents=True, exist_ok=True)
    if _has_external_data(model):
        # Triton wants a model with external data as a directory named model.onnx
        full = onnx.load(str(onnx_path))
        target = version_dir / "model.onnx"
        target.mkdir(exist_ok=True)
        onnx.save(
            full, str(target / "model.onnx"), save_as_external_data=True, location="model.onnx.data"
        )
    else:
        shutil.copyfile(onnx_path, version_dir / "model.onnx")
    (model_dir / "config.pbtxt").write_text(config_pbtxt(config), encoding="utf-8")
    if any("label_filename" in output for output in config["output"]):
        assert classes is not None
        (model_dir / LABELS_FILE).write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    return model_dir


def _has_external_data(model: Any) -> bool:
    from onnx import TensorProto

    return any(t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer)
