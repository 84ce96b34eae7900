"""Data sources: a `data` call of a train section -> DataSplits.

`load_data` binds the call's arguments to the parameters listed in
`netlang.semantics.train_schema.DATA`, reads the source, then carves the missing val/test
splits out of the training part (`split.py`). A source's own test split (MNIST t10k files,
an image folder's test/) wins.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from netlang.data.annotations import load_coco, load_voc
from netlang.data.args import suggest
from netlang.semantics.train_rules import is_number
from netlang.data.dataset import DataSplits, Dataset, image_dataset
from netlang.data.idx import idx_dataset
from netlang.data.images import load_image_folder
from netlang.data.inputs import Inputs, sample_shape
from netlang.data.cifar import CLASSES as CIFAR_CLASSES
from netlang.data.cifar import load_cifar10
from netlang.data.mnist import MNIST, NOTMNIST, IdxSet, load_idx_set
from netlang.data.resize import parse_size
from netlang.data.scenes import SceneSpec, scene_splits
from netlang.data.split import parse_split, split_indices, without_test
from netlang.data.tables import load_csv, load_npz
from netlang.data.targets import check_target
from netlang.data.text import load_text_folder, load_text_table
from netlang.semantics.train_inputs import MULTI_INPUT_SOURCES
from netlang.semantics.train_schema import DATA
from netlang.semantics.train_spec import Call

DIGIT_CLASSES = [str(d) for d in range(10)]
# Sources that make their own train/val/test parts from `split`.
SPLITS_ITSELF = {"digit_scenes"}


@dataclass
class Loaded:
    """What a source read: the training part and whichever other splits it has of its own."""

    train: Dataset
    classes: list[str] | None
    val: Dataset | None = None
    test: Dataset | None = None


def load_data(
    call: Call,
    *,
    seed: int = 0,
    base_dir: Path | None = None,
    inputs: Sequence[str] | None = None,
) -> DataSplits:
    """Read the data a `data` (or `test_data`) entry names, split by `split` and `seed`.

    Args:
        call: e.g. Call("digits", (), {"size": 32, "split": [0.7, 0.15, 0.15]}).
        seed: seeds the split; the same seed gives the same split.
        base_dir: relative paths resolve against it (the .net file's folder); default cwd.
        inputs: the model's input names; several make a source of MULTI_INPUT_SOURCES give
            each its own array (a Dataset whose `x` is `Inputs`).

    Raises:
        ValueError: unknown source or argument, a bad argument value, or unreadable data.
    """
    if call.name not in SOURCES:
        raise ValueError(
            f"unknown data source {call.name!r}{suggest(call.name, SOURCES)}; "
            f"expected one of {', '.join(sorted(SOURCES))}"
        )
    args = call.bind(DATA[call.name])
    if call.name in SPLITS_ITSELF:
        args = {**args, "seed": seed}
    if inputs is not None and len(inputs) > 1:
        if call.name not in MULTI_INPUT_SOURCES:
            raise ValueError(
                f"{call.name} gives one input a sample, and the model takes {len(inputs)} "
                f"({', '.join(inputs)}): use npz(path) with one array per input"
            )
        args = {**args, "inputs": tuple(inputs)}
    loaded = SOURCES[call.name](args, base_dir if base_dir is not None else Path.cwd())
    split = 1.0 if call.name in SPLITS_ITSELF else args.get("split")
    return _assemble(loaded, split, seed, call.name)


def _assemble(loaded: Loaded, split: Any, seed: int, source: str) -> DataSplits:
    """Cut val (and test, unless the source has one) out of the training part."""
    train, val, test = loaded.train, loaded.val, loaded.test
    if val is not None:
        if split is not None and parse_split(split)[0] != 1:
            raise ValueError(
                f"{source}: split={split!r} has no effect, the source has its own "
                "val split (omit split, or use split=1.0)"
            )
    else:
        fractions = parse_split(split)
        if test is not None:
            fractions = without_test(fractions)
        train_index, val_index, test_index = split_indices(train.y, fractions, seed)
        val = train.subset(val_index) if fractions[1] > 0 else None
        if test is None and fractions[2] > 0:
            test = train.subset(test_index)
        train = train.subset(train_index)
    shapes = train.x.shapes() if isinstance(train.x, Inputs) else None
    return DataSplits(train, val, test, loaded.classes, sample_shape(train.x), input_shapes=shapes)


# -- the sources: (bound arguments, base folder) -> Loaded ---------------------------------------


def _digit_table() -> np.ndarray:
    """The UCI 8x8 digits shipped in the package: [1797, 65] (64 pixels 0..16, then the label)."""
    raw = (resources.files("netlang.data") / "digits.csv.gz").read_bytes()
    return np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)


def _digits(args: dict[str, Any], base_dir: Path) -> Loaded:
    """The UCI 8x8 digits shipped in the package (1,797 samples, pixels 0..16)."""
    table = _digit_table()
    x = table[:, :64].reshape(-1, 1, 8, 8).astype(np.float32) / np.float32(16.0)
    data = image_dataset(
        x, table[:, 64], size=_size(args, "digits"), flatten=_flag(args, "flatten", "digits")
    )
    return _keep(Loaded(data, DIGIT_CLASSES), args.get("keep"), "digits")


def _idx_set(spec: IdxSet) -> Callable[[dict[str, Any], Path], Loaded]:
    """The source of a published IDX data set (MNIST, notMNIST)."""

    def source(args: dict[str, Any], base_dir: Path) -> Loaded:
        train, test = load_idx_set(
            spec,
            _path(args, "root", base_dir, spec.name, must_exist=False),
            download=_flag(args, "download", spec.name),
            part=args.get("part"),
            limit=_limit(args, spec.name),
            size=_size(args, spec.name),
            flatten=_flag(args, "flatten", spec.name),
        )
        if train is None:  # only the test files: split them three ways
            return _keep(Loaded(test, spec.classes), args.get("keep"), spec.name)  # type: ignore[arg-type]
        return _keep(Loaded(train, spec.classes, test=test), args.get("keep"), spec.name)

    return source


def _cifar10(args: dict[str, Any], base_dir: Path) -> Loaded:
    train, test = load_cifar10(
        _path(args, "root", base_dir, "cifar10", must_exist=False),
        download=_flag(args, "download", "cifar10"),
        limit=_limit(args, "cifar10"),
        size=_size(args, "cifar10"),
    )
    return _keep(Loaded(train, CIFAR_CLASSES, test=test), args.get("keep"), "cifar10")


def _idx(args: dict[str, Any], base_dir: Path) -> Loaded:
    data = idx_dataset(
        _path(args, "images", base_dir, "idx"),
        _path(args, "labels", base_dir, "idx"),
        limit=_limit(args, "idx"),
        size=_size(args, "idx"),
        flatten=_flag(args, "flatten", "idx"),
    )
    classes = args.get("classes")
    if classes is not None and (
        not isinstance(classes, (list, tuple)) or len(classes) <= int(data.y.max())
    ):
        raise ValueError(
            f"idx: classes={classes!r}: expected a list of names, one per label "
            f"0..{int(data.y.max())}"
        )
    names = [str(c) for c in classes] if classes is not None else None
    return _keep(Loaded(data, names), args.get("keep"), "idx")


def _keep(loaded: Loaded, keep: Any, source: str) -> Loaded:
    """Only the samples of the classes in `keep` (names, or label numbers), renumbered 0.. in
    that order: a new task from part of a data set (e.g. letters F-J after pre-training on A-E).
    """
    if keep is None:
        return loaded
    names = loaded.classes or []
    if not isinstance(keep, (list, tuple)) or not keep or len(set(map(str, keep))) != len(keep):
        raise ValueError(f"{source}: keep={keep!r}: expected a list of distinct classes")
    present = set(loaded.train.y.tolist())
    labels = [names.index(k) if k in names else k for k in keep]
    for entry, label in zip(keep, labels):
        if isinstance(label, bool) or not isinstance(label, int) or label not in present:
            known = ", ".join(names) if names else f"labels {min(present)}..{max(present)}"
            raise ValueError(f"{source}: keep: {entry!r} is not one of its classes ({known})")
    renumber = np.full(max(present) + 1, -1, dtype=np.int64)
    renumber[labels] = np.arange(len(labels))

    def part(data: Dataset) -> Dataset:
        index = np.flatnonzero(np.isin(data.y, labels))
        return Dataset(data.x[index], renumber[data.y[index]])

    return Loaded(
        part(loaded.train),
        [names[i] for i in labels] if names else None,
        val=part(loaded.val) if loaded.val is not None else None,
        test=part(loaded.test) if loaded.test is not None else None,
    )


def _image_folder(args: dict[str, Any], base_dir: Path) -> Loaded:
    channels = args.get("channels", 3)
    splits, classes = load_image_folder(
        _path(args, "root", base_dir, "image_folder"),
        size=_size(args, "image_folder"),
        channels=channels,
        limit=_limit(args, "image_folder"),
    )
    return Loaded(splits["train"], classes, val=splits.get("val"), test=splits.get("test"))


def _npz(args: dict[str, Any], base_dir: Path) -> Loaded:
    train, test, classes = load_npz(
        _path(args, "path", base_dir, "npz"),
        x=args.get("x"),
        y=args.get("y"),
        inputs=args.get("inputs"),
    )
    return Loaded(train, classes, test=test)


def _csv(args: dict[str, Any], base_dir: Path) -> Loaded:
    header = args.get("header")
    if header is not None and not isinstance(header, bool):
        raise ValueError(f"csv: header={header!r}: expected true or false")
    data, classes = load_csv(
        _path(args, "path", base_dir, "csv"), label=args.get("label", -1), header=header
    )
    return Loaded(data, classes)


def _digit_scenes(args: dict[str, Any], base_dir: Path) -> Loaded:
    """Scenes of several digits with boxes or masks (netlang.data.scenes), drawn from `seed`."""
    table = _digit_table()
    target = check_target(args.get("target", "boxes"), "digit_scenes")
    spec = SceneSpec(
        parse_size(args.get("size", 64)),
        _range(args, "objects", (1, 3), "digit_scenes"),
        _range(args, "scale", (14, 28), "digit_scenes"),
    )
    count = args.get("count", 1000)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"digit_scenes: count={count!r}: expected a positive integer")
    parts = scene_splits(
        table[:, :64].reshape(-1, 8, 8).astype(np.float32) / np.float32(16.0),
        table[:, 64],
        count=count,
        fractions=parse_split(args.get("split")),
        spec=spec,
        seed=args["seed"],
    )
    most = _max_objects(args, "digit_scenes") or spec.objects[1]
    train, val, test = (None if p is None else p.dataset(target, most) for p in parts)
    classes = ["background", *DIGIT_CLASSES] if target == "masks" else DIGIT_CLASSES
    return Loaded(train, classes, val=val, test=test)  # type: ignore[arg-type]


def _voc(args: dict[str, Any], base_dir: Path) -> Loaded:
    classes = args.get("classes")
    if classes is not None and not isinstance(classes, (list, tuple)):
        raise ValueError(f"voc: classes={classes!r}: expected a list of class names")
    splits, names = load_voc(
        _path(args, "root", base_dir, "voc"),
        size=_size(args, "voc"),
        channels=args.get("channels", 3),
        classes=None if classes is None else [str(c) for c in classes],
        max_objects=_max_objects(args, "voc"),
    )
    return Loaded(splits["train"], names, val=splits.get("val"), test=splits.get("test"))


def _coco(args: dict[str, Any], base_dir: Path) -> Loaded:
    data, names = load_coco(
        _path(args, "annotations", base_dir, "coco"),
        _path(args, "images", base_dir, "coco"),
        size=_size(args, "coco"),
        channels=args.get("channels", 3),
        target=check_target(args.get("target", "boxes"), "coco"),
        max_objects=_max_objects(args, "coco"),
    )
    masks = args.get("target") == "masks"
    return Loaded(data, ["background", *names] if masks else names)


def _text(args: dict[str, Any], base_dir: Path) -> Loaded:
    header, delimiter = args.get("header"), args.get("delimiter")
    if header is not None and not isinstance(header, bool):
        raise ValueError(f"text: header={header!r}: expected true or false")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ValueError(f"text: delimiter={delimiter!r}: expected one character")
    data, classes = load_text_table(
        _path(args, "path", base_dir, "text"),
        text=args.get("text", "text"),
        label=args.get("label", "label"),
        delimiter=delimiter,
        header=header,
    )
    return Loaded(data, classes)


def _text_folder(args: dict[str, Any], base_dir: Path) -> Loaded:
    data, classes = load_text_folder(_path(args, "root", base_dir, "text_folder"))
    return Loaded(data, classes)


SOURCES: dict[str, Callable[[dict[str, Any], Path], Loaded]] = {
    "digits": _digits,
    "mnist": _idx_set(MNIST),
    "notmnist": _idx_set(NOTMNIST),
    "cifar10": _cifar10,
    "idx": _idx,
    "image_folder": _image_folder,
    "npz": _npz,
    "csv": _csv,
    "digit_scenes": _digit_scenes,
    "voc": _voc,
    "coco": _coco,
    "text": _text,
    "text_folder": _text_folder,
}


# -- argument checks ------------------------------------------------------------------------------


def _path(
    args: dict[str, Any], name: str, base_dir: Path, source: str, *, must_exist: bool = True
) -> Path:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{source}: {name} must be given as a path string, got {value!r}")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if must_exist and not path.exists():
        raise ValueError(f"{source}: {name}={value!r}: {path} does not exist")
    return path


def _size(args: dict[str, Any], source: str) -> tuple[int, int] | None:
    try:
        return parse_size(args["size"]) if args.get("size") is not None else None
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None


def _flag(args: dict[str, Any], name: str, source: str) -> bool:
    value = args.get(name, False)
    if not isinstance(value, bool):
        raise ValueError(f"{source}: {name}={value!r}: expected true or false")
    return value


def _limit(args: dict[str, Any], source: str) -> int | None:
    value = args.get("limit")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{source}: limit={value!r}: expected a positive integer")
    return value


def _max_objects(args: dict[str, Any], source: str) -> int | None:
    value = args.get("max_objects")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{source}: max_objects={value!r}: expected a positive integer")
    return value


def _range(
    args: dict[str, Any], name: str, default: tuple[int, int], source: str
) -> tuple[int, int]:
    """`3` -> (3, 3); `[1, 3]` -> (1, 3): an inclusive range of positive integers."""
    value = args.get(name, default)
    pair = list(value) if isinstance(value, (list, tuple)) else [value, value]
    if (
        len(pair) != 2
        or not all(is_number(v) and int(v) == v and v > 0 for v in pair)
        or (pair[0] > pair[1])
    ):
        raise ValueError(f"{source}: {name}={value!r}: expected a positive integer or [low, high]")
    return (int(pair[0]), int(pair[1]))
