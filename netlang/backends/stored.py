"""Checkpoint tensors left where they lie: a safetensors file's tensors as `Stored` ranges of the
file, not arrays.

Reading a checkpoint into arrays touches as much fresh memory as the weights (VGG-16: 0.55 GB),
which on a VM costs more than writing them out again. A safetensors tensor is little-endian and
C-ordered, which is exactly an ONNX initializer's `raw_data`, so an exporter that stores it
unchanged copies its byte range from the checkpoint into the model file in the kernel
(`copy_file_range`, else `sendfile`, else through one reused buffer) and never holds it. A
tensor that is transformed (batch norm folding, float16) is read as an array (`np.asarray`).

The file is held open from the reading on: a checkpoint replaced (renamed over) or removed in
the meantime is still the one read.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

# safetensors dtype codes numpy holds, little-endian as the format stores them
DTYPES = {
    code: np.dtype(name)
    for code, name in {
        "F64": "<f8",
        "F32": "<f4",
        "F16": "<f2",
        "I64": "<i8",
        "U64": "<u8",
        "I32": "<i4",
        "U32": "<u4",
        "I16": "<i2",
        "U16": "<u2",
        "I8": "i1",
        "U8": "u1",
        "BOOL": "?",
        "C64": "<c8",
    }.items()
}
PIECE_BYTES = 4 << 20  # a copy through user memory goes in pieces of this size
# errors of a first kernel copy that mean "not between these files" (another way may work)
UNSUPPORTED = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSOCK}


class Checkpoint:
    """An open safetensors file; closed when no `Stored` tensor of it is left."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        weakref.finalize(self, os.close, self.fd)
        self.size = os.fstat(self.fd).st_size

    def read_into(self, buffer: memoryview, offset: int) -> None:
        """Fill `buffer` from `offset` of the file."""
        done = 0
        while done < len(buffer):
            count = os.preadv(self.fd, [buffer[done:]], offset + done)
            if not count:
                raise ValueError(f"{self.path} ends before the tensors its header lists")
            done += count


@dataclasses.dataclass(eq=False, frozen=True)
class Stored:
    """A tensor `nbytes` long at `offset` of its checkpoint, read only when asked: as an array
    (`np.asarray`), in pieces, or copied file to file by the kernel (`copy_to`)."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    checkpoint: Checkpoint
    offset: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        value = np.empty(self.shape, self.dtype)
        if value.nbytes:
            self.checkpoint.read_into(memoryview(value.reshape(-1)).cast("B"), self.offset)
        return value if dtype is None else value.astype(dtype, copy=False)

    def pieces(self) -> Iterator[memoryview]:
        """The bytes in PIECE_BYTES pieces, each read into the same buffer (valid until the next
        is asked for)."""
        buffer = memoryview(bytearray(min(PIECE_BYTES, self.nbytes)))
        for start in range(0, self.nbytes, PIECE_BYTES):
            piece = buffer[: min(PIECE_BYTES, self.nbytes - start)]
            self.checkpoint.read_into(piece, self.offset + start)
            yield piece

    def copy_to(self, out: int) -> None:
        """Append the bytes at the file position of descriptor `out`, copied in the kernel where
        it can be (no page of this process touched), else through one reused buffer."""
        for copy in _kernel_copies():
            done = 0
            try:
                while done < self.nbytes:
                    count = copy(self.checkpoint.fd, out, self.offset + done, self.nbytes - done)
                    if not count:
                        raise ValueError(
                            f"{self.checkpoint.path} ends before the tensors its header lists"
                        )
                    done += count
                return
            except OSError as exc:
                if done or exc.errno not in UNSUPPORTED:
                    raise
        for piece in self.pieces():
            write_all(out, piece)


def _kernel_copies() -> Iterator[Any]:
    """(source fd, out fd, source offset, count) -> bytes copied, the ways this OS has."""
    if hasattr(os, "copy_file_range"):
        yield lambda source, out, offset, count: os.copy_file_range(source, out, count, offset)
    if hasattr(os, "sendfile"):
        yield lambda source, out, offset, count: os.sendfile(out, source, offset, count)


def write_all(out: int, data: memoryview | bytes) -> None:
    """`os.write` until all of `data` is written (one call writes at most ~2 GiB)."""
    view, done = memoryview(data).cast("B"), 0
    while done < len(view):
        done += os.write(out, view[done:])


def damaged(path: Path, problem: BaseException) -> str:
    """What to tell the user of a checkpoint that its reader refuses (cut short by a full disk or
    a copy, or another kind of file)."""
    text = str(problem).strip() or type(problem).__name__
    reason = text.splitlines()[0].split(". ")[0].rstrip(".")  # its first sentence
    return f"{path} cannot be read ({reason}): the file is cut short or damaged"


def read_safetensors(path: str | Path) -> dict[str, np.ndarray | Stored]:
    """The tensors of a safetensors file in its header's order, as `Stored` ranges (arrays for
    dtypes numpy lacks, read as safetensors reads them). The file is checked by safetensors
    itself; the header is read again here only for where each tensor lies."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    checkpoint = Checkpoint(path)
    try:
        handle = safe_open(str(path), "np", backend="pread")  # raises on a malformed file
    except (SafetensorError, OSError) as problem:
        raise ValueError(damaged(path, problem)) from None
    with handle:
        header_size = int.from_bytes(_read(checkpoint, 8, 0), "little")
        header = json.loads(_read(checkpoint, header_size, 8))
        tensors: dict[str, np.ndarray | Stored] = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            if entry["dtype"] not in DTYPES:
                tensors[name] = handle.get_tensor(name)
                continue
            tensor = Stored(
                tuple(entry["shape"]),
                DTYPES[entry["dtype"]],
                checkpoint,
                8 + header_size + entry["data_offsets"][0],
            )
            begin, end = entry["data_offsets"]
            if end - begin != tensor.nbytes or tensor.offset + tensor.nbytes > checkpoint.size:
                raise ValueError(f"{path}: tensor {name!r} does not lie where its header says")
            tensors[name] = tensor
    return tensors


def _read(checkpoint: Checkpoint, count: int, offset: int) -> bytes:
    buffer = bytearray(count)
    checkpoint.read_into(memoryview(buffer), offset)
    return bytes(buffer)
