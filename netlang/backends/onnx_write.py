"""Writing an emitted model to disk with the weights streamed from their own buffers.

`onnx.save` serialises the whole ModelProto into one bytes object first: every weight is copied
into the proto, then again into the serialised string, before a byte reaches the disk (VGG-16:
0.55 GB of weights, 2.2 GB peak). Here the ModelProto is serialised without its initializers
and each initializer's record (the few bytes of header protobuf makes, then the array's own
memory) is spliced into the graph field as it is written — the same bytes `SerializeToString`
would give, so onnx, onnxruntime and TensorRT read it as any other file.

Fresh weights (`weights.Drawn`) are drawn piece by piece into a few reused buffers by a second
thread while this one writes the previous piece: they never exist whole in memory, and drawing
overlaps the write. A checkpoint's tensors stored unchanged (`stored.Stored`) are copied from the
checkpoint file into this one by the kernel: they are never read into memory either.

The file is written beside its destination and renamed into place once whole, so no reader
sees half a model at the path (one holding the old file open keeps reading the old one). An old
file is unlinked before the write, neither truncated nor renamed over: ext4 flushes a file
truncated and written again (or renamed over another) to the disk at once, its `auto_da_alloc`
guard for programs that never fsync; and the old file's pages, freed first, are the ones the new
file's writes reuse — on a VM, fresh pages cost the host's page faults (VGG-16, in process:
0.63 s unlinking first, 0.69 s truncating, 1.04 s unlinking after the write).

Above protobuf's 2 GiB message limit the weights go to a sidecar file instead
(`model.onnx.data`, ONNX external data, each tensor aligned for memory mapping) and the model
file holds only the graph.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import onnx

from netlang.backends.onnx_emit import Emitted
from netlang.backends.stored import Stored, write_all
from netlang.backends.weights import Drawn

Array = np.ndarray | Drawn | Stored

INLINE_LIMIT = 2**31 - 2**24  # protobuf's 2 GiB limit, less a margin for the graph itself
ALIGNMENT = 4096  # external tensors start on a page boundary, so a reader can mmap them
GATHER = 1 << 16  # smaller pieces (headers, small tensors) are gathered into one write

MODEL_GRAPH, GRAPH_INITIALIZER, TENSOR_RAW_DATA = 7, 5, 9  # field numbers in onnx.proto
LENGTH_DELIMITED = 2


def write_onnx(emitted: Emitted, path: str | Path, *, external: bool | None = None) -> Path:
    """Write `emitted` to `path`. `external` puts the weights in `path`.data (None: only when
    they would not fit in one protobuf message)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = sum(array.nbytes for _, array in emitted.initializers)
    if external is None:
        external = total > INLINE_LIMIT
    if external:
        data_path = path.with_name(path.name + ".data")
        with _replacing(path) as model, _replacing(data_path) as data:  # data in place first
            _write_external(emitted, model, data, data_path.name)
    else:
        with _replacing(path) as model:
            _write_inline(emitted, model)
    return path


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A hidden sibling of `path` to write, renamed to `path` once written (a symbolic link's
    target is what is replaced), or removed if the write fails; any old file goes first."""
    target = Path(os.path.realpath(path))
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    target.unlink(missing_ok=True)
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.rename(temporary, target)


def _write_inline(emitted: Emitted, path: Path) -> None:
    model = emitted.model.SerializeToString()
    graph_start, graph_end = _field_span(model, MODEL_GRAPH)
    graph = model[graph_start:graph_end]
    split = _first_field_after(graph, GRAPH_INITIALIZER)
    records = [_record(name, array) for name, array in emitted.initializers]
    graph_size = len(graph) + sum(len(head) + array.nbytes for head, array in records)

    def pieces() -> Iterator[bytes | memoryview]:
        yield model[: _field_start(model, MODEL_GRAPH)]
        yield _tag(MODEL_GRAPH) + _varint(graph_size)
        yield graph[:split]
        for head, array in records:
            yield head
            yield from _memory(array)
        yield graph[split:]
        yield model[graph_end:]

    with open(path, "wb", buffering=0) as out:
        _write_all(out, pieces())


def _record(name: str, array: Array) -> tuple[bytes, Array]:
    """The bytes of one `initializer` entry up to the raw data, and the array that follows."""
    header = onnx.TensorProto(
        name=name, dims=array.shape, data_type=onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
    ).SerializeToString()  # fields 1, 2 and 8: all before raw_data (9), as protobuf orders them
    tensor_head = header + _tag(TENSOR_RAW_DATA) + _varint(array.nbytes)
    size = len(tensor_head) + array.nbytes
    return _tag(GRAPH_INITIALIZER) + _varint(size) + tensor_head, array


def _write_external(emitted: Emitted, path: Path, data_path: Path, location: str) -> None:
    model = onnx.ModelProto()
    model.CopyFrom(emitted.model)
    offset = 0
    with open(data_path, "wb", buffering=0) as data:
        for name, array in emitted.initializers:
            offset += -offset % ALIGNMENT
            data.seek(offset)
            _write_all(data, _memory(array))
            tensor = model.graph.initializer.add(
                name=name,
                dims=array.shape,
                data_type=onnx.helper.np_dtype_to_tensor_dtype(array.dtype),
                data_location=onnx.TensorProto.EXTERNAL,
            )
            for key, value in (
                ("location", location),
                ("offset", str(offset)),
                ("length", str(array.nbytes)),
            ):
                tensor.external_data.add(key=key, value=value)
            offset += array.nbytes
        data.truncate(offset)
    path.write_bytes(model.SerializeToString())


def _memory(array: Array) -> Iterator[memoryview | Stored]:
    """The array's bytes: an array's own memory (C-contiguous, as `Emitted` keeps it) without a
    copy; a `Drawn` tensor's pieces as they are drawn; a `Stored` tensor itself, for the writer
    to copy from its file."""
    if not array.nbytes:
        return
    if isinstance(array, Stored):
        yield array
    elif isinstance(array, Drawn):
        yield from (memoryview(piece).cast("B") for piece in array.pieces())
    else:
        yield memoryview(array.reshape(-1)).cast("B")


def _write_all(out: BinaryIO, pieces: Iterable[bytes | memoryview | Stored]) -> None:
    """Write `pieces` to the unbuffered `out`, produced one ahead by a second thread: both the
    draws and the write release the GIL, so they overlap. The queue holds one piece, which with
    the one being written and the one being drawn is what the RING buffers of a `Drawn`
    tensor's stream allow. Pieces under GATHER bytes are copied together into one write."""
    ready: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for piece in pieces:
                if stop.is_set():
                    return
                ready.put((True, piece))
            ready.put((False, None))
        except BaseException as exc:  # handed to the writing thread, which raises it
            ready.put((False, exc))

    producer = threading.Thread(target=produce, name="netlang-weights", daemon=True)
    producer.start()
    fd, gathered = out.fileno(), bytearray()
    try:
        while True:
            more, item = ready.get()
            if not more:
                if item is not None:
                    raise item  # type: ignore[misc]
                break
            if not isinstance(item, Stored) and len(item) < GATHER:  # type: ignore[arg-type]
                gathered += item  # type: ignore[operator]
                continue
            write_all(fd, gathered)
            gathered.clear()
            if isinstance(item, Stored):
                item.copy_to(fd)
            else:
                write_all(fd, item)  # type: ignore[arg-type]
        write_all(fd, gathered)
    finally:
        stop.set()  # a failed write: the producer stops at its next piece
        while producer.is_alive():
            try:
                ready.get_nowait()
            except queue.Empty:
                producer.join(0.01)


def _tag(field: int) -> bytes:
    return _varint(field << 3 | LENGTH_DELIMITED)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _fields(message: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(field number, start of the field, start of its value, end) of each top-level field."""
    position = 0
    while position < len(message):
        start = position
        key, position = _read_varint(message, position)
        field, wire = key >> 3, key & 7
        value = position
        if wire == 0:
            _, position = _read_varint(message, position)
        elif wire == 1:
            position += 8
        elif wire == 5:
            position += 4
        elif wire == LENGTH_DELIMITED:
            size, value = _read_varint(message, position)
            position = value + size
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
        yield field, start, value, position


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _field_span(message: bytes, field: int) -> tuple[int, int]:
    """Where the value of the (single, length-delimited) `field` lies."""
    return next((value, end) for number, _, value, end in _fields(message) if number == field)


def _field_start(message: bytes, field: int) -> int:
    return next(start for number, start, _, _ in _fields(message) if number == field)


def _first_field_after(message: bytes, field: int) -> int:
    """The offset where fields numbered above `field` begin (protobuf writes them in order)."""
    return next((start for number, start, _, _ in _fields(message) if number > field), len(message))
