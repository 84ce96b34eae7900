"""Shipping: a trained run (or a self-describing checkpoint) or a source file -> ONNX with metadata.

The ONNX carries what `predict` and `serve` need to use it alone: class names, preprocessing,
and where it came from (source file name and sha256, model, arguments). No torch here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlang.ir import Graph
from netlang.semantics.program import compile_source
from netlang.diagnostics.source import SourceFile

if TYPE_CHECKING:
    from netlang.backends.onnx_emit import Weight

# safetensors metadata keys that make a checkpoint self-describing (written by import-weights)
SOURCE_KEY, SOURCE_NAME_KEY, MODEL_KEY, ARGUMENTS_KEY = (
    "netlang.diagnostics.source",
    "netlang.source_name",
    "netlang.model",
    "netlang.arguments",
)


@dataclass
class Trained:
    """A model with its weights and what is known about its data."""

    source: SourceFile
    graph: Graph
    weights: Mapping[str, Weight]  # arrays, or tensors not read (`Stored`) or drawn yet
    classes: list[str] | None = None
    normalization: dict[str, Any] | None = None
    tokenizer: dict[str, Any] | None = None  # text models: how raw text becomes token ids
    task: str | None = None  # what the model was trained for (netlang.tasks)
    detection: dict[str, Any] | None = None  # a detector's boxes per cell and NMS settings


class ExportError(Exception):
    """A run or checkpoint that cannot be exported; the message says why."""


def build(source: SourceFile, model: str | None, arguments: dict[str, Any]) -> Graph:
    """Compile `model` of `source` (raises CompileError, rendered with its source lines)."""
    from netlang.diagnostics import CompileError

    program, diagnostics, sources = compile_source(source)
    if program is None:
        raise CompileError(diagnostics, sources)
    return program.model(model, **arguments)


def _rebuild(source: SourceFile, model: str | None, arguments: dict[str, Any]) -> Graph:
    """A trained model's graph from its stored source; if that no longer compiles, the run
    cannot be exported (ExportError with the rendered diagnostics)."""
    from netlang.diagnostics import CompileError

    try:
        return build(source, model, arguments)
    except CompileError as exc:
        raise ExportError(str(exc)) from None


def shipped_checkpoint(run_dir: Path) -> str:
    """The checkpoint the run tested and ships (outcome.json); "best" for older runs."""
    outcome = run_dir / "outcome.json"
    if outcome.is_file():
        return str(
            json.loads(outcome.read_text(encoding="utf-8")).get("shipped_checkpoint", "best")
        )
    return "best"


def load_trained(path: str | Path, *, checkpoint: str | None = None) -> Trained:
    """A run directory (`netlang train --out`), a checkpoint inside one, or a self-describing
    safetensors file (from `netlang import-weights`). A run directory gives the weights its
    test.json scored unless `checkpoint` ("best" or "last") says otherwise."""
    from safetensors import safe_open

    path = Path(path)
    if path.is_dir():
        checkpoint = checkpoint or shipped_checkpoint(path)
        run_dir, weights_file = path, path / "checkpoints" / f"{checkpoint}.safetensors"
        if not weights_file.is_file():
            weights_file = path / "checkpoints" / "last.safetensors"
    else:
        run_dir, weights_file = path.parent.parent, path
    if not weights_file.is_file():
        raise ExportError(f"no checkpoint at {weights_file}")
    weights = read_weights(weights_file)
    config_file = run_dir / "config.json"
    if path.is_dir() or (config_file.is_file() and (run_dir / "source.net").is_file()):
        if not config_file.is_file():
            raise ExportError(f"{run_dir} is not a run directory: no config.json")
        config = json.loads(config_file.read_text(encoding="utf-8"))
        source = SourceFile(
            config.get("source_name", "source.net"),
            (run_dir / "source.net").read_text(encoding="utf-8"),
        )
        graph = _rebuild(source, config["model"], config.get("arguments", {}))
        return Trained(
            source,
            graph,
            weights,
            config.get("classes"),
            config.get("normalization"),
            config.get("tokenizer"),
            (config.get("config") or {}).get("task"),
            detection_of(config.get("config") or {}),
        )
    with safe_open(str(weights_file), "np") as handle:
        meta = handle.metadata() or {}
    if SOURCE_KEY not in meta:
        raise ExportError(
            f"{weights_file} says nothing about its model: export a run directory, "
            "or a checkpoint written by `netlang import-weights`"
        )
    source = SourceFile(meta.get(SOURCE_NAME_KEY, "model.net"), meta[SOURCE_KEY])
    graph = _rebuild(source, meta.get(MODEL_KEY), json.loads(meta.get(ARGUMENTS_KEY, "{}")))
    return Trained(source, graph, weights)


def detection_of(config: dict[str, Any]) -> dict[str, Any] | None:
    """A detection run's settings for the exported decoding: {"boxes": B, "score": ...,
    "iou": ..., "max_per_class": ...} from its resolved configuration; None for other tasks."""
    if config.get("task") != "detection":
        return None
    boxes = (config.get("loss") or {}).get("options", {}).get("boxes", 2)
    return {"boxes": boxes, **config.get("task_options", {})}


def read_weights(path: str | Path) -> dict[str, Weight]:
    """A safetensors file's tensors, left in the file (`backends.stored`): the writer copies
    those it stores unchanged from the checkpoint into the model file, so an export holds none
    of them in memory (read into arrays, VGG-16's 0.55 GB cost more than writing them)."""
    from netlang.backends.stored import read_safetensors

    return read_safetensors(path)


def onnx_metadata(trained: Trained) -> dict[str, str]:
    """The ONNX metadata_props: provenance, class names, the input contract and preprocessing."""
    graph = trained.graph
    meta = {
        "netlang.source_file": Path(trained.source.name).name,
        "netlang.source_sha256": hashlib.sha256(trained.source.text.encode()).hexdigest(),
        "netlang.model": graph.name,
        "netlang.arguments": json.dumps(graph.arguments, sort_keys=True),
    }
    if trained.classes:
        meta["netlang.classes"] = json.dumps([str(c) for c in trained.classes])
    if trained.task:
        meta["netlang.task"] = trained.task
    decoding = box_decoding(trained)
    if decoding is not None:
        meta["netlang.detection"] = json.dumps(decoding.to_json(), sort_keys=True)
    if trained.tokenizer:
        meta["netlang.tokenizer"] = json.dumps(trained.tokenizer, sort_keys=True)
    preprocess = preprocess_recipe(graph, trained.normalization)
    if preprocess:
        meta["netlang.preprocess"] = json.dumps(preprocess, sort_keys=True)
    return meta


def preprocess_recipe(graph: Graph, normalization: dict[str, Any] | None) -> dict[str, Any]:
    """What a caller does before the graph (resize, channels, scale pixels to [0, 1]) and what
    the graph itself does (standardisation with the train split's statistics, `in_graph`)."""
    recipe: dict[str, Any] = {}
    value = graph.inputs[0] if len(graph.inputs) == 1 else None
    shape = value.type.shape if value is not None else ()
    if len(shape) == 4 and all(isinstance(d, int) for d in shape[1:]):
        recipe.update(channels=shape[1], size=[shape[2], shape[3]])
        recipe["input"] = f"image pixels scaled to [0, 1], NCHW {value.type.dtype}"  # type: ignore[union-attr]
    statistics = _standardization(graph, normalization)
    if len(graph.inputs) == 1 and statistics:
        mean, std = statistics[graph.inputs[0].name]
        recipe.update(mean=mean, std=std, in_graph=True)
    elif statistics:  # several inputs: each float one standardised in the graph
        recipe["inputs"] = {n: {"mean": m, "std": s} for n, (m, s) in statistics.items()}
        recipe["in_graph"] = True
    return recipe


def _standardization(
    graph: Graph, normalization: dict[str, Any] | None
) -> dict[str, tuple[list[float], list[float]]] | None:
    """{input: (mean, std)} the exported graph applies, for each input the run normalised (one
    input's statistics at the top level; several inputs' under "inputs")."""
    if not normalization:
        return None
    floats = {v.name for v in graph.inputs if v.type.dtype == "float32"}
    if "inputs" in normalization:
        given = normalization["inputs"]
    elif "mean" in normalization and len(graph.inputs) == 1:
        given = {graph.inputs[0].name: normalization}
    else:
        return None
    chosen = {
        name: (list(s["mean"]), list(s["std"])) for name, s in given.items() if name in floats
    }
    return chosen or None


def emit_trained(trained: Trained, *, fold_bn: bool = False, fp16: bool = False) -> Any:
    """`trained` as an `onnx_emit.Emitted`, its metadata and in-graph standardisation included;
    weights not yet copied. A detector ends in decoded, suppressed boxes, a segmenter also
    returns its mask (netlang.export.detection, netlang.export.segmentation)."""
    from netlang.backends.onnx_emit import emit

    emitted = emit(
        trained.graph,
        trained.weights,
        fold_bn=fold_bn,
        fp16=fp16,
        metadata=onnx_metadata(trained),
        standardize=_standardization(trained.graph, trained.normalization),
    )
    if trained.task == "segmentation":
        from netlang.export.segmentation import add_mask_output

        add_mask_output(emitted.model)
    decoding = box_decoding(trained)
    if decoding is not None:
        from netlang.export.detection import add_box_decoding

        add_box_decoding(emitted.model, decoding)
    return emitted


def box_decoding(trained: Trained) -> Any:
    """A detector's `netlang.export.detection.BoxDecoding` (grid from the graph's output, NMS
    settings from the run), or None for other tasks."""
    if trained.task != "detection":
        return None
    from netlang.export.detection import BoxDecoding

    task = trained.detection or {}
    shape = trained.graph.outputs[0].type.shape
    image = trained.graph.inputs[0].type.shape[-2:]
    boxes = int(task.get("boxes", 2))
    default = BoxDecoding(0, 0, 0, (0, 0))
    return BoxDecoding(
        int(shape[1]),
        boxes,
        int(shape[3]) - 5 * boxes,
        (int(image[0]), int(image[1])),
        float(task.get("score", default.score)),
        float(task.get("iou", default.iou)),
        int(task.get("max_per_class", default.per_class)),
    )


def write_onnx(
    trained: Trained, path: str | Path, *, fold_bn: bool = False, fp16: bool = False
) -> Path:
    """Emit `trained` and write it to `path`, the weights streamed from their arrays (in a
    `.data` sidecar when over protobuf's 2 GiB limit)."""
    from netlang.backends import onnx_write

    return onnx_write.write_onnx(emit_trained(trained, fold_bn=fold_bn, fp16=fp16), path)
