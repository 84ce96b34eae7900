"""`netlang predict MODEL.onnx INPUT...`: images, .npy files or (for text models) sentences ->
top-k labels and probabilities for classifiers; boxes or masks, printed and drawn, for detectors
and segmenters; numbers, PNGs or .npy files for other models."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from netlang.commands.common import DEVICE_OPTION, JSON_OPTION, ONNX_FILE, VERBOSE_OPTION


@click.command()
@click.argument("model", type=ONNX_FILE)
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--top-k",
    "k",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Labels shown per input.",
)
@click.option(
    "--out",
    "out_dir",
    default="predictions",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where a model that is not a classifier writes its outputs (PNG or .npy; pictures of "
    "boxes or masks): INPUT.output.png|npy, or with several outputs INPUT.NAME.png|npy each.",
)
@DEVICE_OPTION
@JSON_OPTION
@VERBOSE_OPTION
def predict(
    model: Path,
    inputs: tuple[str, ...],
    k: int,
    out_dir: Path,
    device: str,
    as_json: bool,
    verbose: bool,
) -> None:
    """Run an exported ONNX MODEL on INPUTS: images, .npy arrays, folders of them, or sentences.

    A model with several outputs gets each answered by name (--json: "outputs": {NAME: ...}).
    Sentences (written out, or .txt files of them) are for a model trained on text. An image
    converted to the model's channels is noted on stderr, once per kind of conversion (-v: per
    file)."""

    from netlang import runtime
    from netlang.runtime import locate

    try:
        session = runtime.make_session(model, device)
        info = runtime.model_info(session)
        items = _unfold(inputs, info)
        converted: dict[str, list[str]] = {}  # a conversion's note -> the files it was made to
        batches = [_load(p, info, converted) for p in items]
        _note_conversions(converted, verbose)
        batch = _joined(batches)
        names = [
            str(p) if _count(b) == 1 else f"{p}[{i}]"
            for p, b in zip(items, batches, strict=True)
            for i in range(_count(b))
        ]
        kind = locate.task_kind(info)
        feeds = batch if isinstance(batch, dict) else {info.signature.inputs[0].name: batch}
        if kind in ("detection", "segmentation"):
            results = (
                locate.detect(session, info, batch)
                if kind == "detection"
                else locate.segment(session, info, batch)
            )
            _show_located(kind, names, batch, results, info, out_dir, as_json)
            return
        heads = [o.name for o in info.signature.outputs]
        outputs = dict(zip(heads, session.run(heads, feeds), strict=True))
        provider = runtime.provider_of(session)
        if len(outputs) > 1:
            _answer_each(outputs, info, names, out_dir, k, model, provider, as_json)
            return
        (output,) = outputs.values()
        document = _document_of(output, heads[0], "output", info, names, out_dir, k, info.classes)
    except (runtime.DeviceError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if any("top" in entry for entry in document.get("predictions", [])):
        if as_json:
            whole = {"model": str(model), "provider": provider, **document}
            click.echo(json.dumps(whole, indent=2))
            return
        click.echo(f"provider: {provider}")
    if as_json:  # a file list on one line, as it always was
        click.echo(json.dumps(document, indent=2 if "predictions" in document else None))
        return
    for line in _lines_of(document):
        click.echo(line)


def _joined(batches: list[Any]) -> Any:
    """The files' batches end to end: one array, or for several inputs one per input name."""
    import numpy as np

    if isinstance(batches[0], dict):
        return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}
    return np.concatenate(batches)


def _count(batch: Any) -> int:
    return len(next(iter(batch.values()))) if isinstance(batch, dict) else len(batch)


def _unfold(inputs: tuple[str, ...], info: Any) -> list[str]:
    """The inputs, each folder as the files in it that predict reads, by name."""
    from netlang.runtime.preprocess import IMAGE_SUFFIXES

    readable = IMAGE_SUFFIXES | {".npy"} | ({".txt"} if info.tokenizer is not None else set())
    if len(info.signature.inputs) > 1:
        readable = {".npz"}  # one array per input (netlang.runtime.preprocess.load_inputs)
    items: list[str] = []
    for item in inputs:
        folder = Path(item)
        if not folder.is_dir():
            items.append(item)
            continue
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in readable and p.is_file())
        if not found:
            kinds = ", ".join(sorted(readable))
            raise ValueError(f"{item}: a folder without a file predict reads ({kinds})")
        items += map(str, found)
    return items


def _note_conversions(converted: dict[str, list[str]], verbose: bool) -> None:
    """One stderr line per kind of image-mode conversion, naming the file if it is one (each
    file with `verbose`)."""
    for note, files in converted.items():
        if verbose or len(files) == 1:
            for name in files:
                click.echo(f"note: {name}: {note}", err=True)
        else:
            click.echo(f"note: {len(files)} images: {note} (-v names them)", err=True)


def _load(item: str, info: Any, converted: dict[str, list[str]]) -> Any:
    """A file, or, for a model with a tokenizer, a sentence (or a .txt file's text); the file's
    image-mode conversion, if any, is added to `converted`."""
    from netlang import runtime

    path = Path(item)
    if info.tokenizer is not None:
        if path.suffix == ".txt" and path.is_file():
            return runtime.load_texts([path.read_text(encoding="utf-8")], info)
        if not path.is_file():
            return runtime.load_texts([item], info)
    if not path.is_file():  # a sentence reads as one only where it cannot be a file name
        sentence = " " in item.strip() and not path.suffix
        why = " (sentences are for a model trained on text; this one was not)" if sentence else ""
        raise ValueError(f"{item}: no such file{why}")
    return runtime.load_input(
        path, info, lambda note: converted.setdefault(note, []).append(path.name)
    )


def _answer_each(
    outputs: dict[str, Any],
    info: Any,
    names: list[str],
    out_dir: Path,
    k: int,
    model: Path,
    provider: str,
    as_json: bool,
) -> None:
    """Every output of a model with several, by name: each as a model with only that output
    would show it, its files named INPUT.OUTPUT (the class names label the outputs they fit)."""
    documents = {}
    for name, output in outputs.items():
        fits = (
            info.classes is not None and output.ndim == 2 and len(info.classes) == output.shape[1]
        )
        classes = info.classes if fits else None
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        documents[name] = _document_of(output, name, stem, info, names, out_dir, k, classes)
    if as_json:
        whole = {"model": str(model), "provider": provider, "outputs": documents}
        click.echo(json.dumps(whole, indent=2))
        return
    click.echo(f"provider: {provider}")
    for name, document in documents.items():
        click.echo(f"output {name}:")
        for line in _lines_of(document):
            click.echo(f"  {line}")


def _document_of(
    output: Any,
    name: str,
    stem: str,
    info: Any,
    names: list[str],
    out_dir: Path,
    k: int,
    classes: tuple[str, ...] | None,
) -> dict[str, Any]:
    """Output `name`'s answer per input: a classifier's top-k, a regression's numbers or a
    sequence labeller's tags; other outputs as files in `out_dir` named INPUT.`stem`."""
    from netlang import runtime

    if runtime.is_classifier(info, output):
        rows = runtime.guesses(output, name, classes, k)
        answers = [
            {"top": [{"label": g.label, "index": g.index, "probability": g.probability} for g in r]}
            for r in rows
        ]
    elif info.task == "sequence" and output.ndim == 3:
        labels = info.classes or [str(i) for i in range(output.shape[-1])]
        answers = [{"tags": [labels[i] for i in row.argmax(-1)]} for row in output]
    elif info.task == "regression" and output.ndim == 2:
        answers = [{"values": [float(v) for v in row]} for row in output]
    else:
        written = runtime.write_outputs(output, names, out_dir, stem=stem)
        return {"outputs": [{"input": n, "file": str(w)} for n, w in zip(names, written)]}
    return {"predictions": [{"input": n, **a} for n, a in zip(names, answers, strict=True)]}


def _lines_of(document: dict[str, Any]) -> list[str]:
    """A `_document_of` answer as the console shows it."""
    lines = []
    for entry in document.get("predictions", []):
        if "top" in entry:
            lines.append(entry["input"])
            lines += [f"  {g['probability']:8.4f}  {g['label']}" for g in entry["top"]]
        elif "tags" in entry:
            lines.append(f"{entry['input']}: " + " ".join(entry["tags"]))
        else:
            lines.append(f"{entry['input']}: " + "  ".join(f"{v:.6g}" for v in entry["values"]))
    lines += [f"{o['input']} -> {o['file']}" for o in document.get("outputs", [])]
    return lines


def _show_located(
    kind: str,
    names: list[str],
    batch: Any,
    results: Any,
    info: Any,
    out_dir: Path,
    as_json: bool,
) -> None:
    """Print each input's boxes (or mask's classes) and draw them into `out_dir`."""
    import numpy as np

    from netlang.runtime.pictures import draw_boxes, draw_mask, save_grid

    out_dir.mkdir(parents=True, exist_ok=True)
    classes = list(info.classes or [])
    document = []
    for i, name in enumerate(names):
        picture = out_dir / f"{i:03d}-{Path(name.split('[')[0]).stem}.png"
        if kind == "detection":
            found = results[i]
            boxes = np.array([d.box for d in found]).reshape(-1, 4)
            tile = draw_boxes(
                batch[i], boxes, [d.index for d in found], [d.score for d in found], classes
            )
            entry: dict[str, Any] = {
                "input": name,
                "detections": [
                    {"label": d.label, "index": d.index, "score": d.score, "box": list(d.box)}
                    for d in found
                ],
            }
        else:
            mask = results[i]
            tile = draw_mask(batch[i], mask)
            counts = np.bincount(mask.reshape(-1), minlength=len(classes) or 1)
            entry = {
                "input": name,
                "pixels": {
                    (classes[c] if c < len(classes) else str(c)): int(n)
                    for c, n in enumerate(counts)
                    if n
                },
            }
        save_grid(picture, [[tile]])
        entry["picture"] = str(picture)
        document.append(entry)
    if as_json:
        click.echo(json.dumps({"task": kind, "predictions": document}, indent=2))
        return
    for entry in document:
        click.echo(f"{entry['input']}  ->  {entry['picture']}")
        for d in entry.get("detections", []):
            box = ", ".join(f"{v:.1f}" for v in d["box"])
            click.echo(f"  {d['score']:8.4f}  {d['label']:>10}  [{box}]")
        for label, n in entry.get("pixels", {}).items():
            click.echo(f"  {n:8d} px  {label}")
