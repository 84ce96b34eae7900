"""Sweeps: `--sweep dropout=0,0.2,0.5` -> one `--set` variant per value (the product of several
sweeps), each trained into its own run directory under one parent, listed in sweep.json so that
`netlang compare PARENT` finds them."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from netlang.semantics.settings import split_setting

SWEEP_FILE = "sweep.json"


def parse_sweep(text: str) -> tuple[str, list[str]]:
    """`"p=0,0.2,[1, 2]"` -> ("p", ["0", "0.2", "[1, 2]"]): commas inside brackets, parentheses
    and strings belong to the value.

    Raises:
        ValueError: not NAME=V1,V2,..., or an empty value.
    """
    key, text = split_setting(text)
    values, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(current.strip())
            current = ""
            continue
        current += char
    values.append(current.strip())
    if any(not v for v in values):
        raise ValueError(f"--sweep {key}: an empty value in {text!r}")
    return key, values


def variants(sweeps: Sequence[str]) -> list[dict[str, str]]:
    """Every combination of the sweeps' values, in order (the first sweep varies slowest)."""
    parsed = [parse_sweep(s) for s in sweeps]
    keys = [key for key, _ in parsed]
    if len(set(keys)) != len(keys):
        raise ValueError("--sweep: a name is swept twice; give all its values in one --sweep")
    return [dict(zip(keys, combo)) for combo in itertools.product(*(v for _, v in parsed))]


def variant_name(variant: Mapping[str, str]) -> str:
    """A folder name for a variant: `dropout=0.2`, `lr=0.01,batch=64` (odd characters -> _)."""
    return ",".join(re.sub(r"[^A-Za-z0-9._=-]+", "_", f"{k}={v}") for k, v in variant.items())


def write_sweep(parent: Path, model: str, runs: Sequence[tuple[dict[str, str], Path]]) -> None:
    """sweep.json: the model and each variant with its run directory (relative to `parent`)."""
    parent.mkdir(parents=True, exist_ok=True)
    entries = [{"set": variant, "run": str(run.relative_to(parent))} for variant, run in runs]
    data = {"model": model, "runs": entries}
    (parent / SWEEP_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
