"""The examples as a fresh clone has them: examples/ copied where no ../shared is next to it.
Every file passes `check` there; every train section whose data ships with the repository loads
it; those that download (MNIST, notMNIST) fetch it from a local mirror of the real files and
train, the transfer chain included; and a missing data set without download is an error at the
`.net` line that asked for it, with the remedy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import netlang
from netlang.cli import main
from netlang.data import mnist
from tests.clone import copy_examples
from tests.mirror import serve

DOWNLOADING = {"mnist", "notmnist", "cifar10"}


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """examples/ as committed, in tmp/clone/: no ../shared next to it."""
    copy = copy_examples(tmp_path / "clone" / "examples")
    assert not any((parent / "shared").exists() for parent in copy.parents)
    return copy


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Small models on a shared 2-core machine train fastest on one thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _sections(copy: Path) -> list[tuple[Path, str, str, bool]]:
    """(file, model, data source, needs weights) for every train section of the examples."""
    found = []
    for path in sorted(copy.rglob("*.net")):
        program = netlang.load(path)
        for model in dict.fromkeys(t.model for t in program.root.trains):
            train = program.model(model).train
            data = train.entries["data"]
            found.append((path, model, data.name, "weights" in train.entries))
    return found


def test_every_example_passes_check_without_shared_data(fresh: Path) -> None:
    files = sorted(fresh.rglob("*.net"))
    assert len(files) >= 18
    for path in files:
        result = CliRunner().invoke(main, ["check", str(path)])
        assert result.exit_code == 0 and ": ok" in result.output, (path, result.output)


def test_every_train_section_with_shipped_data_loads_it_in_a_fresh_copy(fresh: Path) -> None:
    from netlang.train.config import resolve_config
    from netlang.train.run import prepare_data

    shipped = [s for s in _sections(fresh) if s[2] not in DOWNLOADING]
    assert len({path for path, *_ in shipped}) >= 12
    seen = set()
    for path, model, _, _ in shipped:
        graph = netlang.load(path).model(model)
        config = resolve_config(graph.train, graph.name)
        if (path.parent, repr(config.data)) in seen:  # the same data, read once
            continue
        seen.add((path.parent, repr(config.data)))
        splits, _ = prepare_data(config, path.parent)
        assert len(splits.train) > 0, (path, model)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["friedman_mlp.net", "digit_strips_gru.net", "two_inputs.net"])
def test_an_example_with_shipped_data_trains_in_a_fresh_copy(
    fresh: Path, name: str, one_thread: None
) -> None:
    run = fresh / "runs" / "one"
    result = CliRunner().invoke(
        main, ["train", str(fresh / name), "--epochs", "1", "--no-tensorboard", "--out", str(run)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((run / "test.json").read_text())["examples"] > 0


def test_a_missing_data_set_without_download_names_the_line_and_the_remedy(fresh: Path) -> None:
    source = (fresh / "lenet_mnist.net").read_text()
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "mnist(root=" in text)
    (fresh / "offline.net").write_text(source.replace("download=true, ", ""))
    result = CliRunner().invoke(main, ["train", str(fresh / "offline.net"), "--epochs", "1"])
    assert result.exit_code != 0
    assert f"offline.net:{line}:5: error[NL2053]: mnist: no MNIST files under " in result.output
    assert "set download=true in the mnist(...) call to fetch them" in result.output


def test_check_never_downloads(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("check opened a URL")

    monkeypatch.setattr("urllib.request.urlopen", refuse)
    for path in (fresh / "lenet_mnist.net", fresh / "transfer_cifar.net"):
        assert CliRunner().invoke(main, ["check", str(path)]).exit_code == 0
    assert not (fresh / "data" / "mnist").exists()


@pytest.mark.slow
def test_downloading_examples_fetch_their_data_then_train_the_transfer_chain(
    fresh: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    from netlang.train.config import resolve_config
    from netlang.train.run import prepare_data

    runner, example = CliRunner(), fresh / "transfer_notmnist.net"
    with serve(shared_data / "mnist") as digits, serve(shared_data / "notmnist") as letters:
        monkeypatch.setattr(mnist.MNIST, "mirrors", (digits.url,))
        monkeypatch.setattr(mnist.NOTMNIST, "mirrors", (letters.url,))
        pretrain = ["-m", "LeNet5Modern", "--batch", "256", "--out", str(fresh / "runs" / "digits")]
        for step in (pretrain, ["-m", "Letters"]):
            args = ["train", str(example), *step, "--epochs", "1", "--no-tensorboard"]
            result = runner.invoke(main, args)
            assert result.exit_code == 0, result.output
    # the t10k files only (part="test"), each fetched once, then read from examples/data
    fetched = [name for name, _ in digits.requests + letters.requests]
    assert sorted(fetched) == sorted(2 * ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
    graph = netlang.load(fresh / "lenet_mnist.net").model("LeNet5")
    splits, _ = prepare_data(resolve_config(graph.train, graph.name), fresh)
    assert (len(splits.train), splits.val, len(splits.test)) == (8000, None, 2000)
    # stratified: each class keeps its t10k share (980 zeros of 10,000 -> 196 held out)
    assert int((splits.test.y == 0).sum()) == 196
