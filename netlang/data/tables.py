"""Array and table files: .npz archives and CSV files -> Datasets (plus class names).

Features become float32 (uint8 images are scaled to [0, 1]; other integers stay int64 tokens);
targets become int64 class ids, float32 regression targets, or, for text labels, ids into the
sorted list of distinct labels.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from netlang.data.dataset import Dataset
from netlang.data.inputs import Inputs
from netlang.semantics.train_inputs import npz_arrays

_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+([eE][-+]?\d+)?")


def load_npz(
    path: Path, *, x: Any = None, y: Any = None, inputs: Sequence[str] | None = None
) -> tuple[Dataset, Dataset | None, list[str] | None]:
    """(train, test, classes) from the arrays `x`, `y` (and `x_test`, `y_test` if present). For a
    model of several `inputs`, one array per input (named as the inputs, or as `x` lists them;
    `semantics.train_inputs.npz_arrays`), which become the Dataset's `Inputs`.

    Raises:
        ValueError: a named array is missing, or the inputs' sample counts differ.
    """
    names, target = npz_arrays(x, y, inputs)
    keys = [*names, target]
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError) as bad:
        raise ValueError(f"npz: {path} is not a readable .npz archive ({bad})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"npz: {path} holds one array (.npy), not named arrays: write it with np.savez"
        )
    with archive:
        missing = [key for key in keys if key not in archive.files]
        if missing:
            raise ValueError(
                f"npz: {path} has no array {missing[0]!r} (it has {', '.join(archive.files)})"
            )
        try:
            parts = [[archive[key] for key in keys]]
            if all(f"{key}_test" in archive.files for key in keys):
                parts.append([archive[f"{key}_test"] for key in keys])
        except (zipfile.BadZipFile, EOFError, ValueError) as bad:
            raise ValueError(f"npz: {path}: an array cannot be read ({bad})") from None
    targets, classes = encode_targets([part[-1] for part in parts])
    datasets = [Dataset(_features(part[:-1], inputs, path), t) for part, t in zip(parts, targets)]
    return datasets[0], (datasets[1] if len(datasets) > 1 else None), classes


def _features(arrays: list[np.ndarray], inputs: Sequence[str] | None, path: Path) -> Any:
    """One input's features, or several as `Inputs` named by the model's inputs."""
    if inputs is None or len(inputs) == 1:
        return features(arrays[0])
    try:
        return Inputs({name: features(a) for name, a in zip(inputs, arrays)})
    except ValueError as problem:
        raise ValueError(f"npz: {path}: {problem}") from None


def load_csv(
    path: Path, *, label: int | str = -1, header: bool | None = None
) -> tuple[Dataset, list[str] | None]:
    """(data set, classes) from a CSV file (optionally .gz) of numeric feature columns and one
    label column. `header=None` treats the first row as a header when any field of it is not
    a number.

    Raises:
        ValueError: unknown label column, or a non-numeric feature column.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8-sig") as f:  # Excel's BOM dropped
        first = f.readline()
        f.seek(0)
        delimiter = max(",;\t", key=first.count)  # `;`: Excel's CSV where `,` is the decimal mark
        rows = [row for row in csv.reader(f, delimiter=delimiter) if row]
    if delimiter != ",":
        rows = [[_decimal_point(cell) for cell in row] for row in rows]
    if header is None:
        header = bool(rows) and not all(map(_is_number, rows[0]))
    names = rows.pop(0) if header else []
    if not rows:
        raise ValueError(f"csv: {path} has no data rows")
    ragged = next((i for i, row in enumerate(rows) if len(row) != len(rows[0])), None)
    if ragged is not None:
        raise ValueError(
            f"csv: {path}: data row {ragged + 1} has {len(rows[ragged])} fields, "
            f"the first has {len(rows[0])}"
        )
    column = column_index(label, names, len(rows[0]), path, "csv", "label")
    table = np.array(rows, dtype=str)
    feature_columns = [i for i in range(table.shape[1]) if i != column]
    try:
        x = table[:, feature_columns].astype(np.float32)
    except ValueError as error:
        raise ValueError(f"csv: {path}: feature columns must be numeric ({error})") from None
    targets, classes = encode_targets([table[:, column]], numeric_text=True)
    return Dataset(x, targets[0]), classes


def features(x: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1]; other integers -> int64 tokens; else float32."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.int64)
    if np.issubdtype(x.dtype, np.floating) or x.dtype == np.bool_:
        return x.astype(np.float32)
    raise ValueError(f"features of dtype {x.dtype} are not numbers")


def encode_targets(
    ys: list[np.ndarray], *, numeric_text: bool = False
) -> tuple[list[np.ndarray], list[str] | None]:
    """Targets of every part -> int64 class ids / float32 values, and class names for text.

    With `numeric_text`, text that reads as numbers is taken as numbers (CSV cells are text):
    whole numbers become class ids, others float targets.
    """
    if numeric_text and all(map(_is_number, np.concatenate(ys))):
        ys = [y.astype(np.float64) for y in ys]
        if all(np.all(y == np.round(y)) for y in ys):
            ys = [y.astype(np.int64) for y in ys]
    if np.issubdtype(ys[0].dtype, np.integer) or ys[0].dtype == np.bool_:
        return [y.astype(np.int64) for y in ys], None
    if np.issubdtype(ys[0].dtype, np.floating):
        return [y.astype(np.float32) for y in ys], None
    classes = sorted({str(v) for y in ys for v in y})
    index = {name: i for i, name in enumerate(classes)}
    return [np.array([index[str(v)] for v in y], dtype=np.int64) for y in ys], classes


def column_index(
    column: int | str, names: list[str], width: int, path: Path, source: str, argument: str
) -> int:
    """The index of `column` (a header name or an index) among `width` fields; a name that is
    not in the header is told the closest one (case aside: `Precio` for `precio`)."""
    if isinstance(column, str):
        if column not in names:
            folded = [n for n in names if n.casefold() == column.casefold()]
            close = folded or difflib.get_close_matches(column, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listed = (
                f" (columns: {', '.join(names)})" if names else " (no header row: give an index)"
            )
            raise ValueError(
                f"{source}: {path} has no column {column!r} for {argument}{listed}{hint}"
            )
        return names.index(column)
    if isinstance(column, bool) or not isinstance(column, int) or not -width <= column < width:
        raise ValueError(
            f"{source}: {argument}={column!r}: expected a column name or an index in "
            f"[{-width}, {width - 1}]"
        )
    return column % width


def _decimal_point(cell: str) -> str:
    """`-1,5` -> `-1.5` (a decimal comma, in files whose fields are not comma-separated)."""
    return cell.replace(",", ".") if _DECIMAL_COMMA.fullmatch(cell.strip()) else cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
