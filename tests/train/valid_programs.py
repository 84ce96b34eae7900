"""Valid-program fuzzing's material: seed programs (the examples and the standard library, each
with a train section), the edits a user makes to them (numbers, swapped layers, inserted and
removed layers, train-section entries), and synthetic data of the declared input type standing
in for what the `data` entry reads, so that a program `check` accepts can be trained at once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from netlang import ir
from netlang.data import DataSplits, Dataset
from netlang.data.split import parse_split
from netlang.semantics.tasks import REGRESSION_LOSSES, infer_task
from netlang.semantics.train_fit import CLASS_SOURCES
from netlang.semantics.train_spec import Call

REPO = Path(__file__).resolve().parents[2]
TEST_BLOCK = re.compile(r"\n[ \t]*test \{[^}]*\}")
# Entries that need files beside the seed (pretrained weights) are left out of the seeds.
NEEDS_FILES = re.compile(r"\n[ \t]*(weights|replace)[ \t]+[^\n]*")


COMMENT = re.compile(r"[ \t]*#[^\n\"]*$", re.MULTILINE)


def _example(path: Path) -> str:
    return NEEDS_FILES.sub("", TEST_BLOCK.sub("", COMMENT.sub("", path.read_text())))


EXAMPLES = [
    p
    for p in sorted([*REPO.glob("examples/*.net"), *REPO.glob("examples/course/*.net")])
    if "\ntrain " in p.read_text()
]
CLASSIFY = "batch 4\n    epochs 1\n    optimizer adam(lr=1e-3)"
TEXT = 'data text("t.csv", split=[0.6, 0.2, 0.2])\n    tokenize words(length=12, vocab=40)'
# stdlib file -> (model to train, its train section's body, default-argument edits that make it
# small); `big` ones (over ~1 M parameters at these sizes) run only in the long hunt.
STDLIB: dict[str, tuple[str, str, dict[str, str], bool]] = {
    "lenet.net": ("LeNet5Modern", f"data digits(size=32)\n    {CLASSIFY}", {}, False),
    "mlp.net": (
        "MLP",
        f"data digits(flatten=true)\n    {CLASSIFY}",
        {"features": "64", "widths": "[16, 8]"},
        False,
    ),
    "autoencoder.net": (
        "ConvAutoencoder",
        "task reconstruction\n    data digits(size=8)\n    loss mse\n    batch 4",
        {"size": "8", "widths": "[4, 8]"},
        False,
    ),
    "rnn.net": (
        "GRUClassifier",
        f"{TEXT}\n    batch 4",
        {"vocab": "40", "embed": "8", "hidden": "8"},
        False,
    ),
    "transformer.net": (
        "TransformerClassifier",
        f"{TEXT}\n    batch 4",
        {"vocab": "40", "length": "12", "width": "16", "heads": "2", "layers": "1"},
        False,
    ),
    "unet.net": (
        "UNet",
        'data digit_scenes(count=12, size=16, target="masks")\n    loss dice\n    batch 4',
        {"size": "16", "widths": "[4, 8]", "classes": "11"},
        False,
    ),
    "yolo.net": (
        "YOLODigits",
        'data digit_scenes(count=12, size=64, target="boxes")\n    loss yolo\n    batch 2',
        {},
        True,
    ),
    "resnet.net": ("ResNet18", f"data cifar10(size=16)\n    {CLASSIFY}", {"size": "16"}, True),
    "mobilenet.net": ("MobileNetV2", f"data cifar10()\n    {CLASSIFY}", {"size": "32"}, True),
    "squeezenet.net": ("SqueezeNet1_1", f"data cifar10()\n    {CLASSIFY}", {"size": "32"}, True),
    "shufflenet.net": (
        "ShuffleNetV2_x0_5",
        f"data cifar10()\n    {CLASSIFY}",
        {"size": "32"},
        True,
    ),
    "vit.net": ("ViT_B_32", f"data cifar10()\n    {CLASSIFY}", {"size": "32"}, True),
    "swin.net": ("Swin_T", f"data cifar10()\n    {CLASSIFY}", {"size": "32"}, True),
    "convnext.net": ("ConvNeXtTiny", f"data cifar10()\n    {CLASSIFY}", {"size": "32"}, True),
    "densenet.net": ("DenseNet121", f"data cifar10()\n    {CLASSIFY}", {"size": "32"}, True),
    "efficientnet.net": ("EfficientNetB0", f"data cifar10()\n    {CLASSIFY}", {"size": "32"}, True),
    "regnet.net": ("RegNet_X_400MF", f"data cifar10()\n    {CLASSIFY}", {"size": "32"}, True),
    "googlenet.net": ("GoogLeNet", f"data cifar10()\n    {CLASSIFY}", {"size": "32"}, True),
}


def _stdlib(name: str) -> str:
    model, body, defaults, _ = STDLIB[name]
    text = TEST_BLOCK.sub("", COMMENT.sub("", (REPO / "stdlib" / name).read_text()))
    defaults = {"classes": "10", **defaults}
    for param, value in defaults.items():
        text = re.sub(
            rf"\b{param}: (int|list|float) = (\[[^\]]*\]|[^,)]+)", rf"{param}: \1 = {value}", text
        )
    return f"{text}\ntrain {model} {{\n    {body}\n}}\n"


def seeds(big: bool) -> list[str]:
    """Every seed program; `big` adds the standard library's larger networks."""
    small = [_example(p) for p in EXAMPLES]
    return small + [_stdlib(n) for n, (*_, heavy) in STDLIB.items() if big or not heavy]


# -- edits ------------------------------------------------------------------------------------
NUMBER = re.compile(r"(?<![\w.\"])\d[\d_]*(?:\.\d+)?(?:e-?\d+)?(?![\w.\"])")
INTS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "12", "16", "32"]
FLOATS = ["0.0", "0.1", "0.25", "0.5", "0.9", "1.0", "1e-3", "3e-4"]
SWAPS = [
    ["relu", "tanh", "sigmoid", "gelu", "silu", "elu", "leaky_relu", "relu6", "hardswish"],
    ["maxpool2d", "avgpool2d"],
    ["maxpool1d", "avgpool1d"],
    ["global_avgpool", "global_maxpool"],
    ["lstm", "gru"],
    ["batchnorm2d", "layernorm2d"],
    ["softmax", "log_softmax"],
    ["sgd", "adam", "adamw", "rmsprop"],
    ["standardize", "unit"],
]
LAYERS = [
    "relu",
    "dropout(0.5)",
    "dropout(0.0)",
    "batchnorm2d",
    "batchnorm1d",
    "layernorm",
    "layernorm2d",
    "maxpool2d(2)",
    "avgpool2d(3, stride=1, padding=1)",
    "maxpool2d(2, stride=1)",
    "conv2d(4, kernel=3, padding=1)",
    "conv2d(3, kernel=1)",
    "conv2d(4, kernel=3, stride=2, dilation=2)",
    "conv2d(4, kernel=3, padding=2, groups=2)",
    "linear(7)",
    "flatten",
    "global_avgpool",
    "adaptive_avgpool2d(1)",
    "adaptive_avgpool2d(3)",
    "upsample(2)",
    "drop_path(0.2)",
    "softmax",
    "log_softmax",
    "sigmoid",
    "lrn(3)",
    "conv1d(4, kernel=3)",
    "maxpool1d(2)",
    "gru(5)",
    "lstm(5, bidirectional=true)",
    "select(axis=1, index=-1)",
]
ENTRIES = {
    "optimizer": [
        "sgd(lr=0.1)",
        "sgd(lr=0.01, momentum=0.9, nesterov=true)",
        "adam(lr=1e-3, betas=[0.8, 0.9])",
        "adamw(lr=1e-3, weight_decay=0.05)",
        "rmsprop(lr=1e-3, momentum=0.5)",
        "adam",
    ],
    "lr": ["0.1", "1e-4", "10.0"],
    "schedule": [
        "none",
        "step(step_size=1, gamma=0.5)",
        "cosine(warmup=1)",
        "cosine(min_lr=1e-5)",
        "plateau(patience=0)",
        "plateau(monitor=train_loss)",
        "warmup(epochs=2)",
    ],
    "batch": ["1", "2", "3", "5", "64"],
    "epochs": ["1", "2"],
    "augment": [
        "noise(0.1)",
        "hflip",
        "hflip(p=1.0)",
        "[random_crop(8, padding=2), hflip]",
        "random_crop(32, padding=4)",
        "rotate(10)",
        "translate(2)",
        "[]",
    ],
    "regularize": ["l1(1e-4)", "l2(0.1)", "[l1(1e-3), l2(1e-3)]", "l2(0)"],
    "early_stop": [
        "monitor=val_loss patience=1",
        "monitor=val_accuracy patience=2 restore_best=false",
        "monitor=train_loss mode=min patience=0",
        "monitor=val_loss min_delta=0.5 patience=1 restore_best=true",
    ],
    "loss": [
        "cross_entropy(label_smoothing=0.1)",
        "cross_entropy",
        "nll",
        "mse",
        "mae",
        "huber(delta=0.5)",
        "bce",
        "bce_with_logits(pos_weight=2.0)",
        "dice(ce_weight=0.5)",
        "yolo(boxes=1)",
    ],
    "task": [
        "classification",
        "regression",
        "reconstruction",
        "sequence",
        "segmentation",
        "detection(score=0.1)",
    ],
    "normalize": ["standardize", "unit", "none"],
    "init": ["kaiming", "xavier", "normal", "zeros", "default"],
    "clip": ["1.0", "0.01"],
    "seed": ["3"],
    "val_every": ["1", "2"],
    "amp": ["true"],
    "channels_last": ["true"],
    "bn": ["frozen", "trainable"],
    "classes": ['["a", "b", "c"]'],
}


def _replace(text: str, span: tuple[int, int], new: str) -> str:
    return text[: span[0]] + new + text[span[1] :]


def _train_span(text: str) -> tuple[int, int]:
    start = text.rfind("\ntrain ")
    return (start, len(text)) if start >= 0 else (len(text), len(text))


@st.composite
def _number(draw: st.DrawFn, text: str) -> str:
    spans = [m.span() for m in NUMBER.finditer(text)]
    if not spans:
        return text
    span = draw(st.sampled_from(spans))
    pool = FLOATS if "." in text[span[0] : span[1]] or "e-" in text[span[0] : span[1]] else INTS
    return _replace(text, span, draw(st.sampled_from(pool)))


@st.composite
def _input_size(draw: st.DrawFn, text: str) -> str:
    """An input's dims (after N) set to tiny, odd or mismatched sizes."""
    decls = list(re.finditer(r"input \w+: \w+\[N((?:, \w+)*)\]", text))
    if not decls:
        return text
    found = draw(st.sampled_from(decls))
    dims = found.group(1).split(", ")[1:]
    sizes = st.sampled_from(["1", "2", "3", "5", "7", "8", "9", "16", "33"])
    new = [draw(sizes) if draw(st.booleans()) else d for d in dims]
    return _replace(text, found.span(1), "".join(f", {d}" for d in new))


@st.composite
def _swap(draw: st.DrawFn, text: str) -> str:
    group = draw(st.sampled_from(SWAPS))
    spans = [m.span() for m in re.finditer(rf"\b({'|'.join(group)})\b", text)]
    if not spans:
        return text
    return _replace(text, draw(st.sampled_from(spans)), draw(st.sampled_from(group)))


@st.composite
def _insert(draw: st.DrawFn, text: str) -> str:
    spans = [m.span() for m in re.finditer(r"-> ", text)]
    if not spans:
        return text
    start, stop = draw(st.sampled_from(spans))
    return text[:stop] + draw(st.sampled_from(LAYERS)) + " -> " + text[stop:]


@st.composite
def _remove(draw: st.DrawFn, text: str) -> str:
    steps = [m.span() for m in re.finditer(r"\s*-> (\w+: )?\w+(\([^()\n]*\))?", text)]
    return _replace(text, draw(st.sampled_from(steps)), "") if steps else text


@st.composite
def _entry(draw: st.DrawFn, text: str) -> str:
    """A train entry of the last section set (replaced, or added) to another value."""
    key = draw(st.sampled_from(sorted(ENTRIES)))
    value = draw(st.sampled_from(ENTRIES[key]))
    start, stop = _train_span(text)
    if start == stop:
        return text
    section = text[start:stop]
    line = re.search(rf"\n([ \t]+){key}[ \t]+[^\n]*", section)
    if line:
        section = _replace(section, line.span(), f"\n{line.group(1)}{key} {value}")
    else:
        section = re.sub(r"\n\}", f"\n    {key} {value}\n}}", section, count=1)
    return text[:start] + section


EDITS = [_number, _input_size, _swap, _insert, _remove, _entry, _entry]


@st.composite
def programs(draw: st.DrawFn, pool: list[str]) -> str:
    """A seed with one to three edits."""
    text = draw(st.sampled_from(pool))
    for _ in range(draw(st.integers(1, 3))):
        text = draw(draw(st.sampled_from(EDITS))(text))
    return text


# -- synthetic data ---------------------------------------------------------------------------
TEXT_SOURCES = ("text", "text_folder")
OWN_TEST = ("cifar10", "mnist")  # sources with a test split of their own
NAMED = (*CLASS_SOURCES, "cifar10", "notmnist", "digit_scenes")  # sources that name classes
SEQUENCE = 6  # the size given to symbolic dims other than the batch
WORDS = np.array("the cat sat on a mat and ran off to see dogs".split())


def fake_load_data(graph: ir.Graph, counts: tuple[int, int, int], seed: int) -> Any:
    """A stand-in for netlang.data.load_data: samples of the model's declared input type (as the
    user's data would be when it fits the model) and targets of the kind the source gives."""
    rng = np.random.default_rng(seed)
    spec = graph.train
    assert spec is not None
    entries = spec.entries
    x_type, out = graph.inputs[0].type, graph.outputs[0].type

    def dims(shape: tuple[Any, ...]) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else SEQUENCE for d in shape)

    def dataset(call: Call, n: int) -> Dataset:
        if call.name in TEXT_SOURCES:
            x: np.ndarray = np.array(
                [" ".join(rng.choice(WORDS, rng.integers(1, 9))) for _ in range(n)], object
            )
        elif x_type.dtype == "int64":
            vocab = min([n.attrs["num"] for n in graph.nodes if n.op == "embedding"] or [2])
            x = rng.integers(0, vocab, (n, *dims(x_type.shape[1:])))
        else:
            x = rng.random((n, *dims(x_type.shape[1:])), dtype=np.float32)
        return Dataset(x, _targets(call, n, x, rng))

    def _targets(call: Call, n: int, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        loss = entries.get("loss")
        loss_name = loss.name if isinstance(loss, Call) else None
        task = infer_task(entries)
        target = call.kwargs.get("target")
        if task == "detection" or target == "boxes":
            height, width = x.shape[-2:] if x.ndim >= 3 else (8, 8)
            rows = np.full((n, 3, 5), -1.0, np.float32)
            rows[:, 0] = [0, 0, max(1, width // 2), max(1, height // 2), 0]
            return rows
        classes = _class_count(call, out, -1 if task == "sequence" else 1)
        if task == "segmentation" or target == "masks":
            return rng.integers(0, classes, (n, *x.shape[2:]))
        if task == "reconstruction":
            return x.copy()
        if call.name in ("csv", "npz") and (task == "regression" or loss_name in REGRESSION_LOSSES):
            return rng.standard_normal((n, *dims(out.shape[1:])), dtype=np.float32)
        if call.name == "npz" and task == "sequence":
            return rng.integers(0, classes, (n, *dims(out.shape[1:2])))
        return rng.integers(0, classes, n)

    def load(call: Call, *, seed: int = 0, base_dir: Path | None = None) -> DataSplits:
        parts = list(parse_split(call.kwargs.get("split")))
        if call.name in OWN_TEST:
            parts[2] = 1
        train, val, test = (dataset(call, c) if p else None for c, p in zip(counts, parts))
        assert train is not None
        shape = train.x.shape[1:] if train.x.dtype != object else ()
        count = _class_count(call, out, 1) if call.name in NAMED else 0
        names = [str(k) for k in range(count)] or None
        return DataSplits(train, val, test, names, tuple(shape))

    return load


def _class_count(call: Call, out: ir.TensorType, axis: int) -> int:
    keep = call.kwargs.get("keep")
    if isinstance(keep, list):
        return len(keep)
    ten = ("cifar10", "notmnist", "digit_scenes")
    count = CLASS_SOURCES.get(call.name) or (10 if call.name in ten else None)
    scores = out.shape[axis] if len(out.shape) > 1 else 2
    return count or max(1, scores if isinstance(scores, int) else 2)
