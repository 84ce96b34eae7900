"""CIFAR-10 from its canonical binary release (cifar-10-binary.tar.gz) -> train / test Datasets.

Only the binary version is read, never the python one (a pickle). Each batch file is a run of
3,073-byte records: the label byte, then 1,024 red, 1,024 green and 1,024 blue pixels, row-major.
The archive is unpacked once into `root/cifar-10-batches-bin/`; only the known member names are
written, each to a path built here, so no name inside the archive picks where a file goes.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from netlang.data.dataset import Dataset, image_dataset
from netlang.data.download import MissingData, fetch

MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
ARCHIVE = "cifar-10-binary.tar.gz"
MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
FOLDER = "cifar-10-batches-bin"
PARTS = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
SIDE = 32
RECORD = 1 + 3 * SIDE * SIDE


def load_cifar10(
    root: Path,
    *,
    download: bool = False,
    limit: int | None = None,
    size: tuple[int, int] | None = None,
) -> tuple[Dataset, Dataset]:
    """The train (50,000) and test (10,000) images under `root`, pixels scaled to [0, 1];
    `limit` keeps the first images of each part.

    Raises:
        MissingData: the batch files and the archive are missing and `download` is false.
        ValueError: a download failed, or a file is not CIFAR-10 binary.
    """
    folder = root / FOLDER
    if not all((folder / name).is_file() for names in PARTS.values() for name in names):
        archive = root / ARCHIVE
        if not archive.is_file():
            if not download:
                raise MissingData(
                    f"cifar10: neither {folder}/ nor {archive} exists",
                    f"set download=true in the cifar10(...) call to fetch {ARCHIVE} (170 MB), "
                    "or put it there",
                )
            fetch(ARCHIVE, MD5, root, MIRRORS, source="cifar10")
        _unpack(archive, folder)
    train, test = (
        _read([folder / name for name in names], limit, size) for names in PARTS.values()
    )
    return train, test


def _unpack(archive: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name in (n for names in PARTS.values() for n in names):
                member = tar.extractfile(f"{FOLDER}/{name}")
                if member is None:
                    raise KeyError(name)
                (folder / name).write_bytes(member.read())
    except (tarfile.TarError, KeyError, EOFError, OSError) as error:
        message = f"cifar10: {archive} is not the CIFAR-10 binary archive ({error})"
        raise ValueError(message) from None


def _read(paths: list[Path], limit: int | None, size: tuple[int, int] | None) -> Dataset:
    records = []
    for path in paths:
        data = np.fromfile(path, dtype=np.uint8)
        if len(data) % RECORD:
            raise ValueError(
                f"cifar10: {path} is not CIFAR-10 binary ({len(data)} bytes is not a whole "
                f"number of {RECORD}-byte records)"
            )
        records.append(data.reshape(-1, RECORD))
    table = np.concatenate(records)[:limit]
    labels = table[:, 0].astype(np.int64)
    if len(labels) and labels.max() >= len(CLASSES):
        raise ValueError(f"cifar10: {paths[0].parent} holds labels above 9: not CIFAR-10")
    x = table[:, 1:].reshape(-1, 3, SIDE, SIDE).astype(np.float32) / np.float32(255.0)
    return image_dataset(x, labels, size=size, flatten=False)
