"""MNIST: a folder of the canonical IDX files -> train / test Datasets, downloading on request.

The downloader fetches the four canonical files from the mirrors torchvision uses and keeps a
file only when its md5 matches the published one.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from netlang.data.dataset import Dataset
from netlang.data.idx import idx_dataset

MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
# file name -> md5 of the gzip file as published
FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
PARTS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_TIMEOUT_S = 60


def load_mnist(
    root: Path,
    *,
    download: bool = False,
    limit: int | None = None,
    size: tuple[int, int] | None = None,
    flatten: bool = False,
) -> tuple[Dataset | None, Dataset | None]:
    """The (train, test) parts found under `root`, either of which may be None (not both).

    Looks in `root` and in torchvision's `root/MNIST/raw`, for `.gz` or uncompressed files.

    Raises:
        ValueError: no complete image/label pair is present and `download` is false, or a
            download failed.
    """
    if download:
        for name in FILES:
            if _find(root, name.removesuffix(".gz")) is None:
                fetch(name, root)
    found = {
        part: (_find(root, images), _find(root, labels)) for part, (images, labels) in PARTS.items()
    }
    loaded = {
        part: idx_dataset(images, labels, limit=limit, size=size, flatten=flatten)
        if images is not None and labels is not None
        else None
        for part, (images, labels) in found.items()
    }
    if loaded["train"] is None and loaded["test"] is None:
        raise ValueError(
            f"mnist: no MNIST files under {root} (expected {', '.join(FILES)}); "
            "set download=true to fetch them"
        )
    return loaded["train"], loaded["test"]


def fetch(name: str, root: Path, mirrors: Sequence[str] | None = None) -> Path:
    """Download `name` into `root` from the first of `mirrors` (default MIRRORS) that serves
    it with the published md5.

    Raises:
        ValueError: no mirror delivered a file with the published md5.
    """
    root.mkdir(parents=True, exist_ok=True)
    target, partial = root / name, root / (name + ".part")
    failures = []
    for mirror in MIRRORS if mirrors is None else mirrors:
        try:
            with urllib.request.urlopen(mirror + name, timeout=_TIMEOUT_S) as response:
                partial.write_bytes(response.read())
        except OSError as error:  # URLError, HTTPError and timeouts are all OSErrors
            failures.append(f"{mirror}: {error}")
            continue
        if verify_md5(partial, FILES[name]):
            return partial.replace(target)
        failures.append(f"{mirror}: md5 mismatch")
    partial.unlink(missing_ok=True)
    raise ValueError(f"mnist: could not download {name}: " + "; ".join(failures))


def verify_md5(path: Path, md5: str) -> bool:
    """Whether the file's md5 is `md5`."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == md5


def _find(root: Path, stem: str) -> Path | None:
    for folder in (root, root / "MNIST" / "raw"):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None
