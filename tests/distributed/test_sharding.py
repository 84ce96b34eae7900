"""The pieces of data-parallel training that one process can check: how the loader shards an
epoch, the global batch arithmetic, the sync_bn setting, and batch norm over all ranks' batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from click.testing import CliRunner

from netlang.cli import main
from netlang.data import Dataset, make_loader
from netlang.train.config import resolve_config
from netlang.train.distributed import World, free_port, sync_batch_norm
from netlang.semantics.train_schema import SCHEMA
from netlang.semantics.train_spec import TrainSpec


def _data(n: int) -> Dataset:
    return Dataset(np.arange(n, dtype=np.float32).reshape(n, 1), np.arange(n))


def _batches(n: int, batch: int, **options: object) -> list[list[int]]:
    loader = make_loader(_data(n), batch, shuffle=True, seed=3, epoch=2, **options)
    return [y.tolist() for _, y in loader]


def test_each_global_batch_is_split_evenly_across_the_ranks() -> None:
    whole = _batches(96, 32)
    ranks = [_batches(96, 16, shard=(r, 2)) for r in range(2)]
    assert [len(b) for b in ranks[0]] == [len(b) for b in ranks[1]] == [16, 16, 16]
    for k, batch in enumerate(whole):
        assert sorted(ranks[0][k] + ranks[1][k]) == sorted(batch)
        assert ranks[0][k] == batch[0::2] and ranks[1][k] == batch[1::2]


def test_a_size_that_does_not_divide_leaves_out_the_epochs_last_samples() -> None:
    order = [i for batch in _batches(101, 101) for i in batch]
    ranks = [_batches(101, 10, shard=(r, 4)) for r in range(4)]
    assert [len(r) for r in ranks] == [3] * 4 and [len(r[-1]) for r in ranks] == [5] * 4
    seen = sorted(i for rank in ranks for batch in rank for i in batch)
    assert seen == sorted(order[:100])  # one sample left out, a different one each epoch


def test_the_shards_are_reshuffled_every_epoch() -> None:
    first = [
        y.tolist()
        for _, y in make_loader(_data(64), 8, shuffle=True, seed=3, epoch=0, shard=(1, 2))
    ]
    second = [
        y.tolist()
        for _, y in make_loader(_data(64), 8, shuffle=True, seed=3, epoch=1, shard=(1, 2))
    ]
    assert first != second and sorted(sum(first, [])) != sorted(sum(second, []))


def test_each_rank_draws_its_own_augmentation() -> None:
    def noise(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.rand(x.shape, generator=generator)

    def draws(**shard: object) -> torch.Tensor:
        loader = make_loader(_data(8), 4, shuffle=False, seed=0, augment=noise, **shard)
        return next(iter(loader))[0]

    lone, rank0, rank1 = draws(), draws(shard=(0, 2)), draws(shard=(1, 2))
    assert torch.equal(lone, rank0) and not torch.equal(rank0, rank1)


def test_a_bad_shard_is_refused() -> None:
    with pytest.raises(ValueError, match="0 <= rank < ranks"):
        make_loader(_data(8), 4, shuffle=False, seed=0, shard=(2, 2))


def test_the_batch_is_global_and_must_split_evenly() -> None:
    assert World(1, 4).local_batch(64) == 16
    assert World(0, 2).describe_batch(64) == "batch 64 = 2 ranks x 32"
    with pytest.raises(ValueError, match="batch 30 is the global batch.*multiple of 4"):
        World(0, 4).local_batch(30)


def test_a_lone_process_world_changes_nothing() -> None:
    world, data = World(), _data(5)
    assert world.is_main and not world.distributed and world.local_batch(7) == 7
    assert world.shard(data) is data and world.any(True) and not world.any(False)
    sums = {"loss": 1.0, "correct": 2.0, "counted": 3.0, "samples": 4.0, "seconds": 5.0}
    assert world.reduce_sums(sums) == sums and world.broadcast([1]) == [1]


def test_sync_bn_is_a_checked_train_setting() -> None:
    assert SCHEMA["sync_bn"] == "bool"
    assert resolve_config(TrainSpec("M", {"sync_bn": True}), "M").sync_bn is True
    assert resolve_config(None, "M").sync_bn is False
    with pytest.raises(ValueError, match="train.sync_bn must be true or false"):
        resolve_config(TrainSpec("M", {"sync_bn": 1}), "M")


def test_nproc_is_refused_inside_a_torchrun_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.net"
    path.write_text("model M { input x: float32[N, 2]\n y = x -> linear(2)\n output y }")
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = CliRunner().invoke(main, ["train", str(path), "--nproc", "2"])
    assert result.exit_code == 1 and "under torchrun, leave it out" in result.output


@pytest.fixture(scope="module")
def lone_group() -> Iterator[None]:
    """A one-rank gloo group on 127.0.0.1: the all-reduces run, over one batch."""
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1
    )
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("momentum", [0.1, None])
def test_global_batch_norm_on_cpu_matches_torch_batch_norm(
    lone_group: None, momentum: float | None
) -> None:
    """Over one rank the global batch is the local one, so torch's BatchNorm2d is the reference
    for the outputs, the gradients and the running statistics (the 2-rank case is the weight
    comparison in test_processes)."""
    torch.manual_seed(0)
    reference = torch.nn.BatchNorm2d(3, momentum=momentum)
    torch.nn.init.uniform_(reference.weight)
    torch.nn.init.uniform_(reference.bias)
    converted = torch.nn.Sequential(torch.nn.BatchNorm2d(3, momentum=momentum))
    converted.load_state_dict({f"0.{k}": v for k, v in reference.state_dict().items()})
    sync_batch_norm(converted, torch.device("cpu"))
    assert type(converted[0]).__name__ == "_GlobalBatchNorm"
    for step in range(2):
        x = torch.randn(5, 3, 4, 4, requires_grad=True)
        x2 = x.detach().clone().requires_grad_()
        weights = torch.randn(5, 3, 4, 4)
        (reference(x) * weights).sum().backward()
        (converted(x2) * weights).sum().backward()
        torch.testing.assert_close(x2.grad, x.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(converted[0].weight.grad, reference.weight.grad)
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(converted[0].state_dict()[name], value)
    converted.eval()
    reference.eval()
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(converted(x), reference(x))


def test_a_failed_workers_last_stderr_lines_are_quoted(tmp_path: Path) -> None:
    """A SIGABRT says nothing about its cause; the C++ error the worker printed before it does."""
    from netlang.train.distributed import _last_words

    log = tmp_path / "job_0" / "attempt_0" / "1" / "stderr.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        "epoch 1\n\nterminate called after throwing an instance of 'gloo::IoException'\n"
        "  what():  [gloo/transport/tcp/pair.cc:598] Connection closed by peer\n\n"
    )
    (tmp_path / "job_0" / "attempt_0" / "0").mkdir()
    (tmp_path / "job_0" / "attempt_0" / "0" / "stderr.log").write_text("rank 0 was fine\n")
    said = _last_words(tmp_path, 1, lines=2)
    assert said.startswith("terminate called after throwing an instance of 'gloo::IoException'")
    assert said.endswith("Connection closed by peer") and "rank 0" not in said
    assert _last_words(tmp_path, 7) == ""


def test_the_inputs_of_a_multi_input_data_set_are_sharded_together() -> None:
    from netlang.data.inputs import Inputs

    n = 12
    x = Inputs({"a": np.arange(n, dtype=np.float32)[:, None], "b": -np.arange(n)[:, None]})
    data = Dataset(x, np.arange(n))
    for rank in range(3):
        shard = World(rank, 3).shard(data)
        assert shard.y.tolist() == list(range(rank, n, 3))
        assert shard.x.arrays["a"][:, 0].tolist() == shard.y.tolist()
        for (a, b), y in make_loader(data, 2, shuffle=True, seed=1, shard=(rank, 3)):
            assert a[:, 0].tolist() == y.tolist() == (-b[:, 0]).tolist()
