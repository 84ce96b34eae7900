"""`netlang predict MODEL.onnx INPUT...`: images or .npy files -> top-k labels and probabilities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from netlang.commands.common import DEVICE_OPTION, JSON_OPTION, ONNX_FILE


@click.command()
@click.argument("model", type=ONNX_FILE)
@click.argument("inputs", nargs=-1, required=True, type=ONNX_FILE)
@click.option(
    "--top-k",
    "k",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Labels shown per input.",
)
@DEVICE_OPTION
@JSON_OPTION
def predict(model: Path, inputs: tuple[Path, ...], k: int, device: str, as_json: bool) -> None:
    """Classify INPUTS (images or .npy arrays) with an exported ONNX MODEL."""
    import numpy as np

    from netlang import runtime

    try:
        session = runtime.make_session(model, device)
        info = runtime.model_info(session)
        batches = [runtime.load_input(p, info) for p in inputs]
        rows = runtime.predict(session, info, np.concatenate(batches), k)
    except (runtime.DeviceError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    names = [
        str(p) if len(b) == 1 else f"{p}[{i}]"
        for p, b in zip(inputs, batches, strict=True)
        for i in range(len(b))
    ]
    provider = runtime.provider_of(session)
    if as_json:
        click.echo(json.dumps(_document(model, provider, names, rows), indent=2))
        return
    click.echo(f"provider: {provider}")
    for name, row in zip(names, rows, strict=True):
        click.echo(name)
        for g in row:
            click.echo(f"  {g.probability:8.4f}  {g.label}")


def _document(model: Path, provider: str, names: list[str], rows: list[Any]) -> dict[str, Any]:
    return {
        "model": str(model),
        "provider": provider,
        "predictions": [
            {
                "input": name,
                "top": [
                    {"label": g.label, "index": g.index, "probability": g.probability} for g in row
                ],
            }
            for name, row in zip(names, rows, strict=True)
        ],
    }
