"""Checkpoints under kills: the resume state holds its own last weights, names its best weights
file by hash, and `--resume` either continues exactly where a complete checkpoint left off or
refuses, naming the file that does not belong."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from netlang.train import checkpoint as ckpt
from netlang.train.loop import fit
from netlang.semantics.train_spec import Call

QUIET = {"log": lambda line: None}
# val_accuracy picks the best epoch, so best.safetensors changes along the run
RUN = {
    "epochs": 4,
    "optimizer": Call("sgd", (0.05, 0.9, True)),
    "early_stop": Call("early_stop", (), {"monitor": Call("val_accuracy"), "patience": 9}),
}


class Killed(Exception):
    """Stands for a SIGKILL: nothing after it runs, nothing catches it."""


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _kill_at_write(monkeypatch: pytest.MonkeyPatch, name: str, count: int) -> None:
    """Die just before the `count`-th atomic write of file `name` renames it into place."""
    real, seen = ckpt.write_atomic, {"n": 0}

    def write(path: Path, data: bytes) -> None:
        if path.name == name:
            seen["n"] += 1
            if seen["n"] == count:
                raise Killed
        real(path, data)

    monkeypatch.setattr(ckpt, "write_atomic", write)


@pytest.fixture
def reference(splits: Any, make_model: Any, make_config: Any, tmp_path: Path) -> Path:
    fit(make_model(0), splits, make_config(**RUN), tmp_path / "ref", source_text="", **QUIET)
    return tmp_path / "ref" / "checkpoints"


@pytest.mark.parametrize("file", [ckpt.BEST, ckpt.LAST])
def test_a_kill_between_the_state_and_a_weights_file_resumes_to_the_uninterrupted_run(
    splits: Any,
    make_model: Any,
    make_config: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: Path,
    file: str,
) -> None:
    config = make_config(**RUN)
    with monkeypatch.context() as patch:
        _kill_at_write(patch, file, 2)  # the second epoch's commit is cut after state.pt
        with pytest.raises(Killed):
            fit(make_model(0), splits, config, tmp_path / "run", source_text="", **QUIET)
    fit(make_model(99), splits, config, tmp_path / "run", source_text="", resume=True, **QUIET)
    folder = tmp_path / "run" / "checkpoints"
    for name in (ckpt.LAST, ckpt.BEST):
        assert _same(load_file(str(folder / name)), load_file(str(reference / name)))


def test_a_last_weights_file_from_another_epoch_does_not_change_the_resume(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path, reference: Path
) -> None:
    """Pairing files from two epochs: the resume reads the weights inside state.pt."""
    config = make_config(**{**RUN, "epochs": 2})
    fit(make_model(0), splits, config, tmp_path / "run", source_text="", **QUIET)
    folder = tmp_path / "run" / "checkpoints"
    shutil.copy(reference / ckpt.LAST, folder / ckpt.LAST)  # epoch 4's weights beside epoch 2's
    fit(
        make_model(99),
        splits,
        make_config(**RUN),
        tmp_path / "run",
        source_text="",
        resume=True,
        **QUIET,
    )
    assert _same(load_file(str(folder / ckpt.LAST)), load_file(str(reference / ckpt.LAST)))


def test_a_best_weights_file_from_another_moment_is_refused_by_name(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    config = make_config(**RUN)
    fit(make_model(0), splits, config, tmp_path / "run", source_text="", **QUIET)
    folder = tmp_path / "run" / "checkpoints"
    ckpt.save_weights(folder / ckpt.BEST, {k: v + 1 for k, v in make_model(5).state_dict().items()})
    with pytest.raises(
        ValueError, match="best.safetensors is not the file state.pt was saved with"
    ):
        fit(make_model(0), splits, config, tmp_path / "run", source_text="", resume=True, **QUIET)


def test_a_state_file_without_its_weights_is_refused(
    splits: Any, make_model: Any, make_config: Any, tmp_path: Path
) -> None:
    config = make_config(**RUN)
    fit(make_model(0), splits, config, tmp_path / "run", source_text="", **QUIET)
    state_path = tmp_path / "run" / "checkpoints" / ckpt.STATE
    state = torch.load(state_path, weights_only=True)
    del state["last"]
    torch.save(state, state_path)
    with pytest.raises(ValueError, match="older netlang"):
        fit(make_model(0), splits, config, tmp_path / "run", source_text="", resume=True, **QUIET)


def test_a_kill_in_the_middle_of_a_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    ckpt.write_atomic(path, b"old")
    real_replace = ckpt.os.replace

    def dies(src: Any, dst: Any) -> None:
        raise Killed

    ckpt.os.replace = dies  # type: ignore[assignment]
    try:
        with pytest.raises(Killed):
            ckpt.write_atomic(path, b"new")
    finally:
        ckpt.os.replace = real_replace  # type: ignore[assignment]
    assert path.read_bytes() == b"old"
