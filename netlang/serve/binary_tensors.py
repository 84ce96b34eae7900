"""Triton's binary tensor data extension: a tensor's blob in a request body -> a numpy array
(read in place where the bytes already are the array), and a result array -> its blob. Numbers
travel little-endian; BYTES elements as a 4-byte little-endian length, then their bytes."""

from __future__ import annotations

import struct

import numpy as np

from netlang.runtime.signature import DataType, TensorSpec
from netlang.serve.errors import bad


def in_place(spec: TensorSpec) -> np.dtype | None:
    """The dtype a blob of `spec` is read as without any check or conversion: numbers in this
    machine's byte order (little-endian on the wire); None for BYTES, BOOL and a big-endian host."""
    if spec.datatype.v2 in ("BYTES", "BOOL"):
        return None
    native = np.dtype(spec.datatype.numpy)
    return native if native.newbyteorder("<") == native else None


def binary_tensor(
    blob: memoryview, spec: TensorSpec, shape: tuple[int, ...], count: int
) -> np.ndarray:
    datatype = spec.datatype
    if datatype.v2 == "BYTES":
        items = _split_bytes(bytes(blob), spec.name, count)
        return np.array(items, dtype=object).reshape(shape)
    if len(blob) != count * datatype.itemsize:
        raise bad(
            f"input {spec.name!r}: binary_data_size is {len(blob)} bytes but shape {list(shape)} "
            f"of {datatype.v2} needs {count * datatype.itemsize}"
        )
    if datatype.v2 == "BOOL" and blob and max(blob) > 1:
        raise bad(f"input {spec.name!r}: BOOL bytes must be 0 or 1")
    array = np.frombuffer(blob, dtype=np.dtype(datatype.numpy).newbyteorder("<"))
    return array.astype(datatype.numpy, copy=False).reshape(shape)


def _split_bytes(blob: bytes, name: str, count: int) -> list[str]:
    """BYTES elements: each a 4-byte little-endian length, then that many UTF-8 bytes."""
    items, position = [], 0
    while position < len(blob):
        if position + 4 > len(blob):
            raise bad(f"input {name!r}: truncated BYTES element length")
        (length,) = struct.unpack_from("<I", blob, position)
        position += 4
        if position + length > len(blob):
            raise bad(f"input {name!r}: BYTES element runs past binary_data_size")
        try:
            items.append(blob[position : position + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise bad(f"input {name!r}: BYTES elements must be UTF-8 for this model") from None
        position += length
    if len(items) != count:
        raise bad(f"input {name!r}: {len(items)} BYTES elements for a shape of {count}")
    return items


def to_binary(array: np.ndarray, datatype: DataType) -> bytes:
    if datatype.v2 == "BYTES":
        parts = []
        for value in array.reshape(-1):
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            parts.append(struct.pack("<I", len(raw)) + raw)
        return b"".join(parts)
    little = np.dtype(datatype.numpy).newbyteorder("<")
    return np.ascontiguousarray(array, dtype=little).tobytes()
