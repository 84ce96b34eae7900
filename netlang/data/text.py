"""Text sources: a csv/tsv file with a text column and a label column, or a folder with one
sub-folder of .txt files per class -> a Dataset of raw strings (an object array) and class names.

The strings become token ids later, when the train section's `tokenize` has been fitted on the
training split (netlang.data.tokenize, netlang.train.run.prepare_data).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import numpy as np

from netlang.data.dataset import Dataset
from netlang.data.tables import column_index, encode_targets


def load_text_table(
    path: Path, *, text: int | str, label: int | str, delimiter: str | None, header: bool | None
) -> tuple[Dataset, list[str] | None]:
    """(raw texts, class ids or numbers) from a csv/tsv file (optionally .gz). The delimiter is a
    tab for .tsv files and files without a comma-separated header, else a comma; `header=None`
    reads the first row as a header when it names the `text`/`label` columns."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8-sig") as stream:  # Excel's BOM dropped
        sample = stream.read(4096)
        stream.seek(0)
        if delimiter is None:
            delimiter = "\t" if ".tsv" in path.suffixes or "\t" in sample.split("\n")[0] else ","
        rows = [row for row in csv.reader(stream, delimiter=delimiter) if row]
    if not rows:
        raise ValueError(f"text: {path} has no rows")
    if header is None:
        first = {cell.casefold() for cell in rows[0]}  # `Text` is a header too, told its case
        header = any(isinstance(c, str) and c.casefold() in first for c in (text, label))
    names = rows.pop(0) if header else []
    text_at, label_at = (
        column_index(c, names, len(rows[0]), path, "text", what)
        for c, what in ((text, "text"), (label, "label"))
    )
    short = next((i for i, row in enumerate(rows) if len(row) <= max(text_at, label_at)), None)
    if short is not None:
        raise ValueError(f"text: {path}: row {short + 1} has only {len(rows[short])} fields")
    texts = np.array([row[text_at] for row in rows], dtype=object)
    targets, classes = encode_targets([np.array([row[label_at] for row in rows])])
    return Dataset(texts, targets[0]), classes


def load_text_folder(root: Path) -> tuple[Dataset, list[str]]:
    """root/<class>/*.txt -> (texts, class ids in the sorted order of the class folders)."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    texts, labels = [], []
    for k, name in enumerate(classes):
        for file in sorted((root / name).glob("*.txt")):
            texts.append(file.read_text(encoding="utf-8-sig", errors="replace"))
            labels.append(k)
    if not texts:
        raise ValueError(f"text_folder: {root} has no <class>/*.txt files")
    return Dataset(np.array(texts, dtype=object), np.array(labels, dtype=np.int64)), classes
