"""The MNIST downloader, offline: checksums of the real files, and downloads from a local
file:// mirror (the same code path as an http mirror)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netlang.data import load_data, mnist
from netlang.semantics.train_spec import Call

LABELS = "t10k-labels-idx1-ubyte.gz"


def test_published_md5s_match_the_real_t10k_files(shared_data: Path) -> None:
    for name in ("t10k-images-idx3-ubyte.gz", LABELS):
        assert mnist.verify_md5(shared_data / "mnist" / name, mnist.FILES[name])
    assert not mnist.verify_md5(
        shared_data / "mnist" / LABELS, mnist.FILES["train-labels-idx1-ubyte.gz"]
    )


def test_fetch_falls_back_to_the_next_mirror_and_keeps_a_verified_file(
    shared_data: Path, tmp_path: Path
) -> None:
    good, empty = tmp_path / "good", tmp_path / "empty"
    good.mkdir()
    empty.mkdir()
    shutil.copy(shared_data / "mnist" / LABELS, good / LABELS)
    path = mnist.fetch(LABELS, tmp_path / "root", [empty.as_uri() + "/", good.as_uri() + "/"])
    assert path == tmp_path / "root" / LABELS
    assert mnist.verify_md5(path, mnist.FILES[LABELS])


def test_fetch_rejects_a_file_with_the_wrong_md5_and_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / LABELS).write_bytes(b"not mnist")
    with pytest.raises(ValueError, match=f"could not download {LABELS}: .*md5 mismatch"):
        mnist.fetch(LABELS, tmp_path / "root", [bad.as_uri() + "/"])
    assert list((tmp_path / "root").iterdir()) == []


def test_download_true_fetches_the_missing_files_then_loads_them(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a local mirror that serves the t10k files under the training names too
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    files = {}
    for kind in ("images-idx3", "labels-idx1"):
        t10k = f"t10k-{kind}-ubyte.gz"
        for name in (t10k, f"train-{kind}-ubyte.gz"):
            shutil.copy(shared_data / "mnist" / t10k, mirror / name)
            files[name] = mnist.FILES[t10k]
    monkeypatch.setattr(mnist, "MIRRORS", (mirror.as_uri() + "/",))
    monkeypatch.setattr(mnist, "FILES", files)
    splits = load_data(
        Call("mnist", ("root",), {"download": True, "limit": 100}), base_dir=tmp_path
    )
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == sorted(files)
    assert splits.test is not None and len(splits.test) == 100


def test_download_true_reports_a_file_no_mirror_has(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist, "MIRRORS", ((shared_data / "mnist").as_uri() + "/",))
    with pytest.raises(ValueError, match="could not download train-images-idx3-ubyte.gz"):
        load_data(Call("mnist", (str(tmp_path / "root"),), {"download": True}))
