"""The downloaders, offline: the published md5s against the real files, and downloads from a
local HTTP mirror (tests/mirror.py) serving the canonical formats — real files where
../shared/data is, small synthetic ones otherwise: md5 checks, mirror fallback, resuming a cut-off
download, the messages of each failure, and CIFAR-10's binary records decoded byte for byte."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from netlang.data import cifar, load_data, mnist
from netlang.data.download import MissingData, fetch, verify_md5
from netlang.semantics.train_spec import Call
from tests.mirror import serve

IMAGES, LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file as LeCun publishes them: u8 type code 0x08, big-endian dims, gzip."""
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _synthetic_t10k(folder: Path, count: int = 40) -> dict[str, str]:
    """Small t10k files in MNIST's format; their md5s, as a published table would list them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    _write_idx(folder / IMAGES, rng.integers(0, 256, (count, 28, 28)))
    _write_idx(folder / LABELS, np.arange(count) % 10)
    return {name: _md5(folder / name) for name in (IMAGES, LABELS)}


def test_published_md5s_match_the_real_t10k_files(shared_data: Path) -> None:
    for spec, folder in ((mnist.MNIST, "mnist"), (mnist.NOTMNIST, "notmnist")):
        for name in (IMAGES, LABELS):
            assert verify_md5(shared_data / folder / name, spec.files[name]), (folder, name)
    assert not verify_md5(
        shared_data / "mnist" / LABELS, mnist.MNIST.files[LABELS.replace("t10k", "train")]
    )


def test_fetch_falls_back_to_the_next_mirror_and_keeps_only_the_verified_file(
    tmp_path: Path,
) -> None:
    md5 = _synthetic_t10k(tmp_path / "good")[LABELS]
    (tmp_path / "empty").mkdir()
    with serve(tmp_path / "empty") as empty, serve(tmp_path / "good") as good:
        path = fetch(LABELS, md5, tmp_path / "root", [empty.url, good.url], source="mnist")
    assert path == tmp_path / "root" / LABELS and verify_md5(path, md5)
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == [LABELS]
    assert empty.requests == [(LABELS, None)] and good.requests == [(LABELS, None)]


def test_a_file_with_the_wrong_md5_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    _synthetic_t10k(tmp_path / "mirror")
    with serve(tmp_path / "mirror") as mirror:
        with pytest.raises(ValueError) as raised:
            fetch(LABELS, "0" * 32, tmp_path / "root", [mirror.url], source="mnist")
    message = str(raised.value)
    assert f"mnist: could not download {LABELS}" in message
    assert "md5 mismatch" in message and "Offline? Put the file (md5 0000" in message
    assert list((tmp_path / "root").iterdir()) == []


def test_a_cut_off_download_is_kept_and_resumed_with_a_range_request(tmp_path: Path) -> None:
    md5 = _synthetic_t10k(tmp_path / "mirror")[IMAGES]
    size = (tmp_path / "mirror" / IMAGES).stat().st_size
    root = tmp_path / "root"
    with serve(tmp_path / "mirror") as mirror:
        mirror.cut[IMAGES] = 1000
        with pytest.raises(ValueError) as raised:
            fetch(IMAGES, md5, root, [mirror.url], source="mnist")
        assert f"the connection closed {size - 1000:,} bytes before the end" in str(raised.value)
        assert f"1,000 bytes are kept in {root / (IMAGES + '.part')}" in str(raised.value)
        path = fetch(IMAGES, md5, root, [mirror.url], source="mnist")
    assert mirror.requests == [(IMAGES, None), (IMAGES, "bytes=1000-")]
    assert verify_md5(path, md5) and not (root / (IMAGES + ".part")).exists()


def test_a_stale_partial_file_is_fetched_again_from_the_start(tmp_path: Path) -> None:
    md5 = _synthetic_t10k(tmp_path / "mirror")[IMAGES]
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / (IMAGES + ".part")).write_bytes(b"bytes of another file")
    with serve(tmp_path / "mirror") as mirror:
        path = fetch(IMAGES, md5, tmp_path / "root", [mirror.url], source="mnist")
    assert mirror.requests == [(IMAGES, "bytes=21-"), (IMAGES, None)]
    assert verify_md5(path, md5)


def test_a_complete_partial_file_is_verified_without_downloading_it_again(
    tmp_path: Path,
) -> None:
    md5 = _synthetic_t10k(tmp_path / "mirror")[LABELS]
    (tmp_path / "root").mkdir()
    shutil.copy(tmp_path / "mirror" / LABELS, tmp_path / "root" / (LABELS + ".part"))
    size = (tmp_path / "mirror" / LABELS).stat().st_size
    with serve(tmp_path / "mirror") as mirror:
        path = fetch(LABELS, md5, tmp_path / "root", [mirror.url], source="mnist")
    assert mirror.requests == [(LABELS, f"bytes={size}-")]  # answered 416: nothing more to send
    assert verify_md5(path, md5)


def test_an_unreachable_mirror_is_named_with_the_reason(tmp_path: Path) -> None:
    with serve(tmp_path) as gone:
        url = gone.url
    with pytest.raises(ValueError, match=rf"could not download {LABELS} \({url}: .*refused"):
        fetch(LABELS, "0" * 32, tmp_path / "root", [url], source="mnist")


def test_part_test_downloads_and_splits_only_the_t10k_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        mnist.MNIST, "files", {**mnist.MNIST.files, **_synthetic_t10k(tmp_path / "m")}
    )
    with serve(tmp_path / "m") as mirror:
        monkeypatch.setattr(mnist.MNIST, "mirrors", (mirror.url,))
        call = Call("mnist", (), {"root": "root", "download": True, "part": "test", "split": 0.5})
        splits = load_data(call, base_dir=tmp_path)
    assert sorted(name for name, _ in mirror.requests) == [IMAGES, LABELS]
    assert (len(splits.train), len(splits.val), splits.test) == (20, 20, None)  # type: ignore[arg-type]
    assert splits.classes == [str(d) for d in range(10)]


def test_without_download_a_missing_data_set_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(MissingData, match="notmnist: no notMNIST files under") as raised:
        load_data(Call("notmnist", (), {"root": "nowhere"}), base_dir=tmp_path)
    assert raised.value.hint.startswith("set download=true in the notmnist(...) call")
    with pytest.raises(ValueError, match="mnist: part='val': expected one of 'train', 'test'"):
        load_data(Call("mnist", (), {"root": "x", "part": "val"}), base_dir=tmp_path)


def test_the_real_notmnist_files_download_with_the_published_md5s(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(shared_data / "notmnist") as mirror:
        monkeypatch.setattr(mnist.NOTMNIST, "mirrors", (mirror.url,))
        splits = load_data(
            Call("notmnist", (), {"root": "nm", "download": True, "keep": ["F", "J"]}),
            base_dir=tmp_path,
        )
    assert splits.classes == ["F", "J"]
    assert len(splits.train) + len(splits.val) + len(splits.test) == 2000  # type: ignore[arg-type]
    assert sorted(p.name for p in (tmp_path / "nm").iterdir()) == [IMAGES, LABELS]


# -- CIFAR-10 --------------------------------------------------------------------------------------


def _cifar_archive(path: Path, per_batch: int = 20) -> np.ndarray:
    """cifar-10-binary.tar.gz's layout with `per_batch` records per batch; the records."""
    rng = np.random.default_rng(1)
    records = rng.integers(0, 256, (6 * per_batch, cifar.RECORD), dtype=np.uint8)
    records[:, 0] = np.arange(len(records)) % 10
    with tarfile.open(path, "w:gz") as tar:
        for i, name in enumerate([*cifar.PARTS["train"], *cifar.PARTS["test"]]):
            data = records[i * per_batch : (i + 1) * per_batch].tobytes()
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return records


def test_cifar10_downloads_unpacks_and_decodes_the_binary_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mirror").mkdir()
    records = _cifar_archive(tmp_path / "mirror" / cifar.ARCHIVE)
    monkeypatch.setattr(cifar, "MD5", _md5(tmp_path / "mirror" / cifar.ARCHIVE))
    with serve(tmp_path / "mirror") as mirror:
        monkeypatch.setattr(cifar, "MIRRORS", (mirror.url,))
        call = Call("cifar10", (), {"root": "c", "download": True, "split": [0.8, 0.2]})
        splits = load_data(call, base_dir=tmp_path)
    assert splits.classes == cifar.CLASSES and splits.input_shape == (3, 32, 32)
    assert splits.test is not None and len(splits.test) == 20
    test = records[100:]  # test_batch.bin: the source's own test split, in file order
    np.testing.assert_array_equal(splits.test.y, test[:, 0])
    # record = label, 1,024 red, 1,024 green, 1,024 blue, each plane row-major
    red_row1_col2 = test[0, 1 + 32 + 2]
    blue_last = test[0, 1 + 3 * 1024 - 1]
    assert splits.test.x[0, 0, 1, 2] == np.float32(red_row1_col2) / np.float32(255)
    assert splits.test.x[0, 2, 31, 31] == np.float32(blue_last) / np.float32(255)
    assert (len(splits.train), len(splits.val)) == (80, 20)  # type: ignore[arg-type]
    assert sorted(p.name for p in (tmp_path / "c" / cifar.FOLDER).iterdir()) == sorted(
        [*cifar.PARTS["train"], *cifar.PARTS["test"]]
    )


def test_cifar10_refuses_what_is_not_its_binary_release(tmp_path: Path) -> None:
    with pytest.raises(MissingData, match="cifar10: neither .* exists") as raised:
        load_data(Call("cifar10", (), {"root": "c"}), base_dir=tmp_path)
    assert "set download=true in the cifar10(...) call" in raised.value.hint
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / cifar.ARCHIVE).write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="is not the CIFAR-10 binary archive"):
        load_data(Call("cifar10", (), {"root": "c"}), base_dir=tmp_path)
    _cifar_archive(tmp_path / "c" / cifar.ARCHIVE)
    load_data(Call("cifar10", (), {"root": "c"}), base_dir=tmp_path)  # unpacks
    (tmp_path / "c" / cifar.FOLDER / "test_batch.bin").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="100 bytes is not a whole number of 3073-byte records"):
        load_data(Call("cifar10", (), {"root": "c"}), base_dir=tmp_path)
