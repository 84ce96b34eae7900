"""Numeric JSON `"data"` arrays -> numpy, without holding a Python object per number.

`json.loads` turns each number into a Python float or int (24-32 bytes, plus 8 for the list slot)
and numpy then copies them again: a 48 MB body of JSON numbers took ~400 MB at its peak, and the
freed small objects stayed in the allocator. So before the header is parsed, each large `"data"`
array that holds only numbers is cut out of the text (replaced by a placeholder string no client
can guess) and later parsed ~1 MB at a time, still by `json.loads` (so JSON's own number syntax),
straight into the preallocated array; its brackets are checked against the input's shape.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NUMERIC_ARRAY = re.compile(rb"\s*:\s*(\[[-+.eE0-9,\s\[\]]*)")
_FRAME = np.frombuffer(b"[],", np.uint8)
MIN_CUT_BYTES = 4096  # smaller arrays go through json.loads whole: no memory to save
CHUNK_BYTES = 1 << 20  # text parsed at a time: bounds the Python objects alive at once


@dataclass(frozen=True, slots=True)
class NumericText:
    """One `"data"` array of numbers: where it lies in `source` (brackets included), and its
    brackets and commas (`frame`)."""

    source: bytes
    start: int
    end: int
    frame: bytes

    def pieces(self) -> Iterator[bytes]:
        """The numbers' text, brackets left out, in pieces of about CHUNK_BYTES cut at commas."""
        position, stop = self.start, self.end
        while position < stop:
            cut = (
                stop
                if stop - position <= CHUNK_BYTES
                else self.source.rfind(b",", position, position + CHUNK_BYTES)
            )
            if cut <= position:  # no comma in a whole chunk: one number cannot be that long
                cut = stop
            yield self.source[position:cut].translate(None, b"[]")
            position = cut + 1

    def json(self) -> bytes:
        """The numbers as one flat JSON array (for the datatypes parsed the general way)."""
        return b"[" + b",".join(p for p in self.pieces() if p.strip()) + b"]"


def cut_numeric_arrays(header: bytes) -> tuple[bytes, dict[str, NumericText]]:
    """The header with each large numeric `"data"` array replaced by a placeholder string, and
    the placeholders' arrays. Anything unusual is left for `json.loads` to judge."""
    if len(header) < MIN_CUT_BYTES:  # no array to cut (the common binary-tensor header)
        return header, {}
    nonce = ""  # drawn at the first cut: os.urandom was a fifth of a small binary request
    pieces: list[bytes] = []
    arrays: dict[str, NumericText] = {}
    position = 0
    for match in _STRING.finditer(header):
        if match.start() < position or match.group() != b'"data"':
            continue
        run = _NUMERIC_ARRAY.match(header, match.end())
        if run is None or run.end(1) - run.start(1) < MIN_CUT_BYTES:
            continue
        start = run.start(1)
        end = _balanced_end(header, start, run.end(1))
        if end is None:
            continue
        nonce = nonce or secrets.token_hex(8)
        key = f"\u0000netlang-array:{nonce}:{len(arrays)}"
        arrays[key] = _read_array(header, start, end)
        pieces += [header[position:start], b'"\\u0000' + key[1:].encode() + b'"']
        position = end
    if not arrays:
        return header, arrays
    pieces.append(header[position:])
    return b"".join(pieces), arrays


def _chunks(buffer: bytes, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
    """(offset, uint8 view) windows of buffer[start:stop]: whole-array steps in bounded memory."""
    for offset in range(start, stop, CHUNK_BYTES):
        yield offset, np.frombuffer(buffer, np.uint8, min(CHUNK_BYTES, stop - offset), offset)


def _balanced_end(buffer: bytes, start: int, stop: int) -> int | None:
    """Where the bracketed array at `start` ends (None if it is not closed before `stop`)."""
    depth = 0
    for offset, codes in _chunks(buffer, start, stop):
        steps = (codes == ord("[")).view(np.int8) - (codes == ord("]")).view(np.int8)
        where = np.flatnonzero(steps)
        levels = depth + np.cumsum(steps[where], dtype=np.int64)
        closed = np.flatnonzero(levels == 0)
        if closed.size:
            return offset + int(where[closed[0]]) + 1
        depth = int(levels[-1]) if levels.size else depth
    return None


def _read_array(buffer: bytes, start: int, end: int) -> NumericText:
    frame = b"".join(c[np.isin(c, _FRAME)].tobytes() for _, c in _chunks(buffer, start, end))
    return NumericText(buffer, start, end, frame)


def skeleton(shape: tuple[int, ...]) -> bytes:
    """The brackets and commas of a JSON array nested as `shape` (numbers left out)."""
    inner = b""
    for size in reversed(shape):
        inner = b"[" + (inner + b",") * (size - 1) + inner + b"]" if size else b"[]"
    return inner


def skeleton_length(shape: tuple[int, ...]) -> int:
    """len(skeleton(shape)), counted without building it: a claimed shape of 10**12 rows must
    be refused by arithmetic, not by trying to allocate its brackets."""
    length = 0
    for size in reversed(shape):
        length = 2 + size * length + size - 1 if size else 2
    return length


def check_frame(array: NumericText, shape: tuple[int, ...]) -> None:
    """ValueError unless the array is nested as `shape`, or flat with as many numbers."""
    count, frame = math.prod(shape), array.frame
    flat = len(frame) == max(count, 1) + 1 and frame.count(b",") == max(count - 1, 0)
    if flat and frame[0] == ord("["):
        return
    if len(frame) != skeleton_length(shape) or frame != skeleton(shape):
        raise ValueError("'data' is ragged or does not have the input's shape")


def parse_numbers(
    array: NumericText,
    shape: tuple[int, ...],
    dtype: np.dtype,
    parse_constant: Callable[[str], Any],
) -> np.ndarray:
    """The numbers of an array that passed `check_frame`, in row-major order, as `dtype` (a
    float type, int64 or uint64): ValueError for text that is not JSON numbers, floats for
    integers, or integers past `dtype`."""
    count = math.prod(shape)
    integers = dtype.kind in "iu"
    out = np.empty(count, dtype)
    filled = 0
    for piece in array.pieces():
        if not piece.strip():
            continue
        try:
            values = json.loads(b"[" + piece + b"]", parse_constant=parse_constant)
        except (json.JSONDecodeError, RecursionError):
            raise ValueError("'data' holds something that is not a JSON number") from None
        if filled + len(values) > count:
            break
        if integers and not all(type(v) is int for v in values):
            raise ValueError("data of kind 'f' cannot be an integer datatype")
        try:
            with np.errstate(over="ignore"):  # a float past the dtype: _coerce refuses it
                out[filled : filled + len(values)] = values
        except OverflowError:
            raise ValueError(f"a value is out of range for {dtype.name}") from None
        filled += len(values)
    else:
        if filled == count:
            return out.reshape(shape)
    raise ValueError(f"the number of data elements does not match shape {list(shape)}")
