"""MNIST and notMNIST: a folder of published IDX files -> train / test Datasets, downloading on
request (netlang.data.download: md5-checked, resumable).

MNIST comes from the mirrors torchvision uses. notMNIST has no IDX release of its own author;
its IDX form is the 10,000-letter sample of notMNIST_small in davidflanagan/notMNIST-to-MNIST
(posted with the author's permission, and what other loaders download), fetched at a fixed
commit so the bytes cannot change under the published md5s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from netlang.data.dataset import Dataset
from netlang.data.download import MissingData, fetch
from netlang.data.idx import idx_dataset


@dataclass
class IdxSet:
    """A data set published as IDX image/label files (mirrors may be replaced, e.g. by a local
    mirror)."""

    name: str  # the source's name in a train section
    title: str  # as its authors write it
    mirrors: tuple[str, ...]
    files: dict[str, str]  # published file name -> md5 of the file as published
    parts: dict[str, tuple[str, str]]  # "train"/"test" -> (images, labels) file stems
    classes: list[str]


MNIST = IdxSet(
    "mnist",
    "MNIST",
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    },
    [str(d) for d in range(10)],
)
NOTMNIST = IdxSet(
    "notmnist",
    "notMNIST",
    (
        "https://raw.githubusercontent.com/davidflanagan/notMNIST-to-MNIST/"
        "17823f4d4a3acd8317c07866702d2eb2ac79c7a0/",
    ),
    {
        "t10k-images-idx3-ubyte.gz": "2c87c839a4ef9b238846600eec8c35b7",
        "t10k-labels-idx1-ubyte.gz": "7ea9118cbafd0f6e3ee2ad771d782a01",
    },
    {"test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")},
    list("ABCDEFGHIJ"),
)


def load_idx_set(
    spec: IdxSet,
    root: Path,
    *,
    download: bool = False,
    part: str | None = None,
    limit: int | None = None,
    size: tuple[int, int] | None = None,
    flatten: bool = False,
) -> tuple[Dataset | None, Dataset | None]:
    """The (train, test) parts found under `root`, either of which may be None (not both).

    `part` ("train" or "test") reads and downloads only that part. Files are looked for in `root`
    and in torchvision's `root/MNIST/raw`, `.gz` or uncompressed.

    Raises:
        MissingData: no complete image/label pair is present and `download` is false.
        ValueError: an unknown part, or a download failed.
    """
    if part is not None and part not in spec.parts:
        raise ValueError(
            f"{spec.name}: part={part!r}: expected one of {', '.join(map(repr, spec.parts))}"
        )
    wanted = {p: stems for p, stems in spec.parts.items() if part in (None, p)}
    names = [name for name in spec.files if name.removesuffix(".gz") in sum(wanted.values(), ())]
    if download:
        for name in names:
            if _find(root, name.removesuffix(".gz")) is None:
                fetch(name, spec.files[name], root, spec.mirrors, source=spec.name)
    found = {p: (_find(root, stems[0]), _find(root, stems[1])) for p, stems in wanted.items()}
    loaded = {
        p: idx_dataset(images, labels, limit=limit, size=size, flatten=flatten)
        if images is not None and labels is not None
        else None
        for p, (images, labels) in found.items()
    }
    if all(dataset is None for dataset in loaded.values()):
        raise MissingData(
            f"{spec.name}: no {spec.title} files under {root} (expected {', '.join(names)})",
            f"set download=true in the {spec.name}(...) call to fetch them, or put them there",
        )
    return loaded.get("train"), loaded.get("test")


def _find(root: Path, stem: str) -> Path | None:
    for folder in (root, root / "MNIST" / "raw"):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None
