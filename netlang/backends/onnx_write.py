"""Writing an emitted model to disk with the weights streamed from their own buffers.

`onnx.save` serialises the whole ModelProto into one bytes object first: every weight is copied
into the proto, then again into the serialised string, before a byte reaches the disk (VGG-16:
0.55 GB of weights, 2.2 GB peak). Here the ModelProto is serialised without its initializers
and each initializer's record (the few bytes of header protobuf makes, then the array's own
memory) is spliced into the graph field as it is written — the same bytes `SerializeToString`
would give, so onnx, onnxruntime and TensorRT read it as any other file.

Above protobuf's 2 GiB message limit the weights go to a sidecar file instead
(`model.onnx.data`, ONNX external data, each tensor aligned for memory mapping) and the model
file holds only the graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import onnx

from netlang.backends.onnx_emit import Emitted

INLINE_LIMIT = 2**31 - 2**24  # protobuf's 2 GiB limit, less a margin for the graph itself
ALIGNMENT = 4096  # external tensors start on a page boundary, so a reader can mmap them

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
        _write_external(emitted, path)
    else:
        _write_inline(emitted, path)
    return path


def _write_inline(emitted: Emitted, path: Path) -> None:
    model = emitted.model.SerializeToString()
    graph_start, graph_end = _field_span(model, MODEL_GRAPH)
    graph = model[graph_start:graph_end]
    split = _first_field_after(graph, GRAPH_INITIALIZER)
    records = [_record(name, array) for name, array in emitted.initializers]
    graph_size = len(graph) + sum(len(head) + array.nbytes for head, array in records)
    with open(path, "wb") as out:
        out.write(model[: _field_start(model, MODEL_GRAPH)])
        out.write(_tag(MODEL_GRAPH) + _varint(graph_size))
        out.write(graph[:split])
        for head, array in records:
            out.write(head)
            _write_array(out, array)
        out.write(graph[split:])
        out.write(model[graph_end:])


def _record(name: str, array: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The bytes of one `initializer` entry up to the raw data, and the array that follows."""
    header = onnx.TensorProto(
        name=name, dims=array.shape, data_type=onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
    ).SerializeToString()  # fields 1, 2 and 8: all before raw_data (9), as protobuf orders them
    tensor_head = header + _tag(TENSOR_RAW_DATA) + _varint(array.nbytes)
    size = len(tensor_head) + array.nbytes
    return _tag(GRAPH_INITIALIZER) + _varint(size) + tensor_head, array


def _write_external(emitted: Emitted, path: Path) -> None:
    data_path = path.with_name(path.name + ".data")
    model = onnx.ModelProto()
    model.CopyFrom(emitted.model)
    offset = 0
    with open(data_path, "wb") as data:
        for name, array in emitted.initializers:
            offset += -offset % ALIGNMENT
            data.seek(offset)
            _write_array(data, array)
            tensor = model.graph.initializer.add(
                name=name,
                dims=array.shape,
                data_type=onnx.helper.np_dtype_to_tensor_dtype(array.dtype),
                data_location=onnx.TensorProto.EXTERNAL,
            )
            for key, value in (
                ("location", data_path.name),
                ("offset", str(offset)),
                ("length", str(array.nbytes)),
            ):
                tensor.external_data.add(key=key, value=value)
            offset += array.nbytes
        data.truncate(offset)
    path.write_bytes(model.SerializeToString())


def _write_array(out: BinaryIO, array: np.ndarray) -> None:
    """The array's own memory (C-contiguous, as `Emitted` keeps it), without a copy."""
    if array.nbytes:
        out.write(memoryview(array.reshape(-1)).cast("B"))


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
