"""Each data source on real files: sample counts, class counts, pixel values and class names,
checked against the published figures and against independent readers (gzip/struct, Pillow)."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import re

import numpy as np
import pytest
from PIL import Image

from netlang.data import load_data
from netlang.semantics.train_spec import Call

DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
CIFAR_CLASSES = [
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


def test_digits_is_the_embedded_uci_set_with_its_published_class_counts() -> None:
    splits = load_data(Call("digits", (), {"split": 1.0}))
    assert splits.val is None and splits.test is None
    assert splits.train.x.shape == (1797, 1, 8, 8) and splits.input_shape == (1, 8, 8)
    assert np.bincount(splits.train.y).tolist() == DIGIT_COUNTS
    assert splits.classes == [str(d) for d in range(10)]
    # first line of the file: "0,0,5,13,9,1,0,0,..." (pixels 0..16 -> [0, 1])
    np.testing.assert_array_equal(splits.train.x[0, 0, 0], np.array([0, 0, 5, 13, 9, 1, 0, 0]) / 16)
    assert splits.train.x.dtype == np.float32 and splits.train.y.dtype == np.int64


def test_digits_size_resizes_and_flatten_gives_vectors() -> None:
    resized = load_data(Call("digits", (32,), {"split": 1.0}))
    assert resized.input_shape == (1, 32, 32)
    assert 0 <= resized.train.x.min() and resized.train.x.max() <= 1
    flat = load_data(Call("digits", (), {"flatten": True, "split": 1.0}))
    assert flat.input_shape == (64,)
    np.testing.assert_array_equal(
        flat.train.x[5], load_data(Call("digits", (), {"split": 1.0})).train.x[5].reshape(-1)
    )


def test_mnist_t10k_alone_is_split_three_ways_with_the_published_label_counts(
    shared_data: Path,
) -> None:
    splits = load_data(Call("mnist", (str(shared_data / "mnist"),), {}))
    assert splits.test is not None and splits.val is not None
    counts = sum(
        np.bincount(part.y, minlength=10) for part in (splits.train, splits.val, splits.test)
    )
    assert counts.tolist() == MNIST_TEST_COUNTS
    assert splits.input_shape == (1, 28, 28)
    everything = np.concatenate([splits.train.x, splits.val.x, splits.test.x])
    assert everything.mean() * 255 == pytest.approx(33.79, abs=0.01)  # README's pixel mean


def test_mnist_uses_train_files_as_train_and_t10k_as_its_own_test(
    shared_data: Path, tmp_path: Path
) -> None:
    # a folder with both pairs: the t10k files stand in for the training files too
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for kind in ("images-idx3", "labels-idx1"):
        source = shared_data / "mnist" / f"t10k-{kind}-ubyte.gz"
        shutil.copy(source, raw / f"t10k-{kind}-ubyte.gz")
        (raw / f"train-{kind}-ubyte").write_bytes(gzip.decompress(source.read_bytes()))
    splits = load_data(
        Call("mnist", (), {"root": str(tmp_path), "limit": 900, "split": [0.7, 0.2, 0.1]})
    )
    assert splits.test is not None and splits.val is not None
    assert len(splits.test) == 900  # the source's own test split, not carved from train
    assert len(splits.train) + len(splits.val) == 900
    assert len(splits.val) == pytest.approx(900 * 0.2 / 0.9, abs=10)  # train:val = 7:2
    assert splits.test.y[0] == 7  # the first t10k label


def test_mnist_missing_files_without_download_says_how_to_fetch_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no MNIST files under"):
        load_data(Call("mnist", (str(tmp_path),), {}))


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file written by hand from the format description (uint8 only)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def test_idx_reads_a_hand_written_pair_with_class_names(tmp_path: Path) -> None:
    images = np.arange(6 * 3 * 4, dtype=np.uint8).reshape(6, 3, 4) * 3
    labels = np.array([0, 1, 2, 0, 1, 2], dtype=np.uint8)
    write_idx(tmp_path / "img.idx.gz", images)
    write_idx(tmp_path / "lab.idx", labels)
    splits = load_data(
        Call("idx", ("img.idx.gz", "lab.idx"), {"classes": ["a", "b", "c"], "split": 1.0}),
        base_dir=tmp_path,
    )
    np.testing.assert_allclose(splits.train.x[:, 0], images / 255, rtol=1e-6)
    assert splits.train.y.tolist() == labels.tolist()
    assert splits.classes == ["a", "b", "c"] and splits.input_shape == (1, 3, 4)


def test_keep_takes_the_named_classes_renumbered_in_its_order(tmp_path: Path) -> None:
    images = np.arange(6 * 2 * 2, dtype=np.uint8).reshape(6, 2, 2)
    write_idx(tmp_path / "img", images)
    write_idx(tmp_path / "lab", np.array([0, 1, 2, 0, 1, 2]))
    call = Call("idx", ("img", "lab"), {"classes": ["a", "b", "c"], "keep": ["c", "a"]})
    splits = load_data(Call(call.name, call.args, {**call.kwargs, "split": 1.0}), base_dir=tmp_path)
    assert splits.classes == ["c", "a"]
    assert splits.train.y.tolist() == [1, 0, 1, 0]  # samples 0, 2, 3, 5 in file order
    np.testing.assert_allclose(splits.train.x[:, 0] * 255, images[[0, 2, 3, 5]], atol=1e-4)
    unnamed = load_data(Call("idx", ("img", "lab"), {"keep": [2], "split": 1.0}), base_dir=tmp_path)
    assert unnamed.train.y.tolist() == [0, 0] and unnamed.classes is None


def test_keep_names_a_class_the_data_lacks_in_its_message(tmp_path: Path) -> None:
    write_idx(tmp_path / "img", np.zeros((4, 2, 2)))
    write_idx(tmp_path / "lab", np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"keep: 'z' is not one of its classes \(a, b\)"):
        load_data(
            Call("idx", ("img", "lab"), {"classes": ["a", "b"], "keep": ["z"]}), base_dir=tmp_path
        )
    with pytest.raises(ValueError, match="expected a list of distinct classes"):
        load_data(Call("idx", ("img", "lab"), {"keep": [1, 1]}), base_dir=tmp_path)


def test_mnist_keep_selects_digits_of_the_test_files(shared_data: Path) -> None:
    splits = load_data(
        Call(
            "mnist", (), {"root": str(shared_data / "mnist"), "keep": [5, 6, 7, 8, 9], "split": 1.0}
        )
    )
    counts = np.bincount(splits.train.y).tolist()
    assert counts == MNIST_TEST_COUNTS[5:] and splits.classes == ["5", "6", "7", "8", "9"]


def test_idx_rejects_a_truncated_file(tmp_path: Path) -> None:
    write_idx(tmp_path / "img", np.zeros((4, 2, 2)))
    (tmp_path / "img").write_bytes((tmp_path / "img").read_bytes()[:-1])
    write_idx(tmp_path / "lab", np.zeros(4))
    with pytest.raises(ValueError, match="need 32 bytes, the file has 31"):
        load_data(Call("idx", (str(tmp_path / "img"), str(tmp_path / "lab")), {}))


def test_idx_reads_notmnist_with_letter_names(shared_data: Path) -> None:
    root = shared_data / "notmnist"
    splits = load_data(
        Call(
            "idx",
            (str(root / "t10k-images-idx3-ubyte.gz"), str(root / "t10k-labels-idx1-ubyte.gz")),
            {"classes": list("ABCDEFGHIJ"), "split": 1.0, "limit": 2000},
        )
    )
    assert splits.train.x.shape == (2000, 1, 28, 28) and splits.classes == list("ABCDEFGHIJ")
    assert set(splits.train.y.tolist()) == set(range(10))


def test_image_folder_uses_train_and_test_folders_and_sorted_class_names(shared_data: Path) -> None:
    root = shared_data / "cifar10_jpg"
    splits = load_data(Call("image_folder", (str(root),), {"limit": 50}))
    assert splits.classes == CIFAR_CLASSES and splits.input_shape == (3, 32, 32)
    assert splits.test is not None and len(splits.test) == 50
    assert splits.test.y.tolist() == list(range(10)) * 5  # classes taken in turn
    assert splits.val is not None and len(splits.train) + len(splits.val) == 50
    # test sample 0 is test/airplane/0000.jpg, decoded independently with Pillow
    expected = np.asarray(Image.open(root / "test" / "airplane" / "0000.jpg").convert("RGB"))
    np.testing.assert_allclose(splits.test.x[0], expected.transpose(2, 0, 1) / 255, rtol=1e-6)


def test_image_folder_flat_layout_resizes_and_converts_to_grey(tmp_path: Path) -> None:
    for name, shape in (("cat", (10, 12)), ("dog", (6, 6))):
        (tmp_path / name).mkdir()
        for i in range(3):
            image = Image.fromarray(np.full((*shape, 3), 40 * i, np.uint8))
            image.save(tmp_path / name / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    splits = load_data(Call("image_folder", (str(tmp_path), 8), {"channels": 1, "split": 1.0}))
    assert splits.classes == ["cat", "dog"] and splits.input_shape == (1, 8, 8)
    assert splits.train.y.tolist() == [0, 1, 0, 1, 0, 1]
    np.testing.assert_allclose(splits.train.x[2], 40 / 255, rtol=1e-6)  # cat/1.png, constant


def test_image_folder_without_size_rejects_mixed_image_sizes(tmp_path: Path) -> None:
    for name, side in (("a", 4), ("b", 5)):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((side, side), np.uint8)).save(tmp_path / name / "0.png")
    with pytest.raises(ValueError, match="differ in size; set size"):
        load_data(Call("image_folder", (str(tmp_path),), {}))


def test_npz_scales_uint8_images_and_uses_its_own_test_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 1, 4, 4), dtype=np.uint8)
    y = np.array(["no", "yes"] * 20)
    np.savez(tmp_path / "d.npz", images=x, labels=y, images_test=x[:6], labels_test=y[:6])
    splits = load_data(
        Call("npz", ("d.npz",), {"x": "images", "y": "labels", "split": 0.75}), base_dir=tmp_path
    )
    assert splits.classes == ["no", "yes"]
    assert splits.test is not None and splits.test.y.tolist() == [0, 1] * 3
    np.testing.assert_allclose(splits.test.x, x[:6] / 255, rtol=1e-6)
    assert len(splits.train) == 30 and splits.val is not None and len(splits.val) == 10


def test_npz_keeps_integer_features_as_tokens_and_float_targets(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "t.npz", x=np.arange(20, dtype=np.int32).reshape(10, 2), y=np.linspace(0, 1, 10)
    )
    splits = load_data(Call("npz", (str(tmp_path / "t.npz"),), {"split": 1.0}))
    assert splits.train.x.dtype == np.int64 and splits.train.y.dtype == np.float32
    assert splits.classes is None


def test_csv_reads_mnist_training_rows_with_the_label_first(
    shared_data: Path, tmp_path: Path
) -> None:
    lines = (shared_data / "mnist" / "mnist_train_first2243.csv").read_text().splitlines()[:60]
    (tmp_path / "m.csv").write_text("\n".join(lines))
    splits = load_data(Call("csv", ("m.csv",), {"label": 0, "split": 1.0}), base_dir=tmp_path)
    table = np.array([line.split(",") for line in lines], dtype=np.int64)
    np.testing.assert_array_equal(splits.train.x, table[:, 1:])
    np.testing.assert_array_equal(splits.train.y, table[:, 0])
    assert splits.input_shape == (784,)


def test_csv_detects_a_header_and_names_text_labels(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a,kind,b\n1,spam,2\n3,ham,4\n5,spam,6\n7,ham,8\n")
    splits = load_data(Call("csv", ("t.csv",), {"label": "kind", "split": 1.0}), base_dir=tmp_path)
    assert splits.classes == ["ham", "spam"]
    assert splits.train.y.tolist() == [1, 0, 1, 0]
    np.testing.assert_array_equal(splits.train.x, [[1, 2], [3, 4], [5, 6], [7, 8]])


def test_image_folder_val_folder_is_used_instead_of_a_split(tmp_path: Path) -> None:
    for split, count in (("train", 4), ("val", 2), ("test", 3)):
        for name in ("a", "b"):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(count):
                image = Image.fromarray(np.zeros((2, 2), np.uint8))
                image.save(tmp_path / split / name / f"{i}.png")
    splits = load_data(Call("image_folder", (str(tmp_path),), {"split": 1.0}))
    assert splits.val is not None and splits.test is not None
    assert (len(splits.train), len(splits.val), len(splits.test)) == (8, 4, 6)
    with pytest.raises(ValueError, match="has its own val split"):
        load_data(Call("image_folder", (str(tmp_path),), {"split": 0.8}))


@pytest.mark.parametrize(
    ("content", "said"),
    [("npy", "holds one array (.npy), not named arrays"), ("junk", "not a readable .npz archive")],
)
def test_an_npz_that_is_not_an_archive_is_a_data_error(
    tmp_path: Path, content: str, said: str
) -> None:
    path = tmp_path / "d.npz"
    if content == "npy":
        with path.open("wb") as f:
            np.save(f, np.zeros(3))
    else:
        path.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ValueError, match=re.escape(said)):
        load_data(Call("npz", ("d.npz",), {}), base_dir=tmp_path)
