"""IDX files (the MNIST format): path -> numpy array, and an IDX image/label pair -> Dataset.

An IDX file is two zero bytes, a type code, the number of dimensions, one big-endian u32 per
dimension, then the values in row-major order, big-endian; often gzip-compressed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from netlang.data.dataset import Dataset, image_dataset

# IDX type code -> numpy dtype (big-endian where it matters)
_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path) -> np.ndarray:
    """The array stored in an IDX file, gzip-compressed or not.

    Raises:
        ValueError: the file is not a well-formed IDX file.
    """
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {data[:4].hex()})")
    dtype, ndim = _TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: IDX header is truncated")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{path}: IDX dims {dims} need {expected} bytes, the file has {len(data)}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def idx_dataset(
    images: Path,
    labels: Path,
    *,
    limit: int | None = None,
    size: tuple[int, int] | None = None,
    flatten: bool = False,
) -> Dataset:
    """Grayscale images [n, rows, cols] (0..255) and class labels [n] -> a Dataset.

    Pixels are scaled to [0, 1] and given a channel axis, (1, rows, cols); `limit` keeps the
    first samples, `size` resizes and `flatten` turns each image into a vector.
    """
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"{images} and {labels}: expected images [n, rows, cols] and labels "
            f"[n], got {list(x.shape)} and {list(y.shape)}"
        )
    x, y = x[:limit], y[:limit]
    return image_dataset(
        x[:, None].astype(np.float32) / 255.0, y.astype(np.int64), size=size, flatten=flatten
    )
