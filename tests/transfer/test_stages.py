"""Staged training through fit(): frozen layers and batch-norm statistics stay put, multipliers
set the parameter-group rates, stages run in order with their own optimiser, resume crosses a
stage boundary bit-exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from netlang.backends.torch_module import to_torch
from netlang.data import make_loader
from netlang.ir import Graph
from netlang.train.loop import fit
from netlang.train.optim import build_optimizer
from netlang.train.transfer import Layers, StagePlan
from netlang.semantics.train_spec import Call

QUIET = {"log": lambda line: None}


def _train(
    graph: Graph, splits: Any, config: Any, run_dir: Path, **options: Any
) -> tuple[torch.nn.Module, Any]:
    module = to_torch(graph, seed=0)
    result = fit(
        module,
        splits,
        config,
        run_dir,
        source_text="",
        layers=[node.name for node in graph.nodes],
        **{**QUIET, **options},
    )
    return module, result


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_frozen_layers_do_not_change_and_trainable_ones_do(
    graph: Graph, splits: Any, make_config: Any, tmp_path: Path
) -> None:
    before = _state(to_torch(graph, seed=0))
    config = make_config(
        freeze=["features", "mid"],
        optimizer=Call("sgd", (0.1, 0.9)),
        regularize=Call("l2", (0.01,)),
    )
    module, _ = _train(graph, splits, config, tmp_path)
    after = module.state_dict()
    for name in ("features.0.weight", "features.0.bias", "features.1.weight", "mid.weight"):
        assert torch.equal(after[name], before[name]), name
    for name in ("head.weight", "head.bias"):
        assert not torch.equal(after[name], before[name]), name


def test_frozen_batch_norm_keeps_its_running_statistics(
    graph: Graph, splits: Any, make_config: Any, tmp_path: Path
) -> None:
    before = _state(to_torch(graph, seed=0))
    module, _ = _train(graph, splits, make_config(freeze=["features"]), tmp_path)
    after = module.state_dict()
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.equal(after[f"features.1.{name}"], before[f"features.1.{name}"]), name


def test_bn_trainable_lets_frozen_batch_norm_statistics_move(
    graph: Graph, splits: Any, make_config: Any, tmp_path: Path
) -> None:
    before = _state(to_torch(graph, seed=0))
    last = Call("early_stop", (), {"restore_best": False})  # the last epoch's weights ship
    config = make_config(freeze=["features"], bn=Call("trainable"), early_stop=last)
    module, _ = _train(graph, splits, config, tmp_path)
    after = module.state_dict()
    assert not torch.equal(after["features.1.running_mean"], before["features.1.running_mean"])
    assert int(after["features.1.num_batches_tracked"]) == 2 * 4  # 2 epochs of 64/16 batches
    assert torch.equal(after["features.1.weight"], before["features.1.weight"])  # still frozen


def test_a_frozen_batch_norm_normalises_with_its_running_statistics_in_training(
    graph: Graph, make_config: Any
) -> None:
    module = to_torch(graph, seed=0)
    bn = module.get_submodule("features.1")
    with torch.no_grad():
        bn.running_mean.fill_(0.5)
        bn.running_var.fill_(4.0)
    plan = StagePlan.build(make_config(freeze=["features"]), Layers(n.name for n in graph.nodes))
    plan.apply(module, 0)
    module.train()
    hidden = torch.randn(5, 8)
    expected = torch.nn.functional.batch_norm(
        hidden,
        torch.full((8,), 0.5),
        torch.full((8,), 4.0),
        bn.weight,
        bn.bias,
        training=False,
        eps=1e-5,
    )
    assert torch.allclose(bn(hidden), expected)


def test_lr_multipliers_give_each_parameter_group_its_rate(graph: Graph, make_config: Any) -> None:
    module = to_torch(graph, seed=0)
    config = make_config(
        optimizer=Call("sgd", (0.1,)), lr_mult=Call("lr_mult", (), {"features": 0.1, "head": 10})
    )
    plan = StagePlan.build(config, Layers(n.name for n in graph.nodes))
    optimizer = build_optimizer(plan.apply(module, 0), config.optimizer)
    rates = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    expected = {
        "features.0.weight": 0.01,
        "features.1.bias": 0.01,
        "mid.weight": 0.1,
        "mid.bias": 0.1,
        "head.weight": 1.0,
        "head.bias": 1.0,
    }
    params = dict(module.named_parameters())
    for name, lr in expected.items():
        assert rates[id(params[name])] == pytest.approx(lr), name
    assert len(rates) == len(params)


def test_multipliers_scale_with_the_schedule(
    graph: Graph, splits: Any, make_config: Any, tmp_path: Path
) -> None:
    config = make_config(
        epochs=2,
        optimizer=Call("sgd", (0.1,)),
        schedule=Call("step", (), {"step_size": 1, "gamma": 0.5}),
        lr_mult=Call("lr_mult", (), {"head": 10}),
    )
    _, result = _train(graph, splits, config, tmp_path)
    state = torch.load(tmp_path / "checkpoints" / "state.pt", weights_only=True)
    assert sorted(g["lr"] for g in state["optimizer"]["param_groups"]) == pytest.approx(
        [0.025, 0.25]
    )  # epoch 3's rates: 0.1 * 0.5**2, times 1 and 10
    assert [row["lr"] for row in result.history] == pytest.approx([0.1, 0.05])


STAGES = {
    "head": {"epochs": 2, "freeze": ["features..mid"], "optimizer": Call("sgd", (0.1,))},
    "finetune": {"epochs": 2, "lr": 0.001},
}


def test_stages_run_in_order_with_their_own_optimizer_and_rate(
    graph: Graph, splits: Any, make_config: Any, tmp_path: Path
) -> None:
    lines: list[str] = []
    config = make_config(optimizer=Call("adam", (), {"lr": 0.01}), stages=STAGES)
    start = _state(to_torch(graph, seed=0))
    module, result = _train(graph, splits, config, tmp_path, log=lines.append)
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    assert [row["lr"] for row in result.history] == pytest.approx([0.1, 0.1, 0.001, 0.001])
    assert "stage 2/2 finetune: 2 epochs, adam lr 0.001" in lines
    state = torch.load(tmp_path / "checkpoints" / "state.pt", weights_only=True)
    assert state["stage"] == 1 and "betas" in state["optimizer"]["param_groups"][0]  # adam
    assert not torch.equal(module.state_dict()["features.0.weight"], start["features.0.weight"])


def test_the_head_stage_alone_leaves_the_features_alone(
    graph: Graph, splits: Any, make_config: Any, tmp_path: Path
) -> None:
    start = _state(to_torch(graph, seed=0))
    config = make_config(stages={"head": STAGES["head"]})
    module, _ = _train(graph, splits, config, tmp_path)
    state = torch.load(tmp_path / "checkpoints" / "state.pt", weights_only=True)
    assert "momentum" in state["optimizer"]["param_groups"][0]  # sgd
    assert torch.equal(module.state_dict()["features.0.weight"], start["features.0.weight"])
    assert torch.equal(module.state_dict()["mid.weight"], start["mid.weight"])


class _Interrupting:
    def __init__(self, batches: Any, at: int) -> None:
        self.batches, self.at = batches, at

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Any]:
        for k, batch in enumerate(self.batches):
            if k == self.at:
                raise KeyboardInterrupt
            yield batch


def _interrupting_loader(epoch: int, at: int) -> Any:
    def loader(ds: Any, batch: int, **options: Any) -> Any:
        batches = make_loader(ds, batch, **options)
        if options.get("shuffle") and options.get("epoch") == epoch:
            return _Interrupting(batches, at)
        return batches

    return loader


@pytest.mark.parametrize(("epoch", "at"), [(2, 0), (2, 2), (1, 1)])
def test_resume_across_a_stage_boundary_ends_with_the_uninterrupted_weights(
    graph: Graph, splits: Any, make_config: Any, tmp_path: Path, epoch: int, at: int
) -> None:
    stages = {
        "head": {**STAGES["head"], "optimizer": Call("sgd", (0.1, 0.9))},
        "finetune": {"epochs": 2, "lr": 0.001, "schedule": Call("cosine", (), {"warmup": 1})},
    }
    config = make_config(optimizer=Call("adam"), stages=stages)
    reference, _ = _train(graph, splits, config, tmp_path / "ref")
    _, interrupted = _train(
        graph, splits, config, tmp_path / "run", loader=_interrupting_loader(epoch, at)
    )
    assert interrupted.stop_reason == "interrupted"
    state = torch.load(tmp_path / "run" / "checkpoints" / "state.pt", weights_only=True)
    assert state["stage"] == (1 if epoch >= 2 else 0)

    resumed = to_torch(graph, seed=5)  # every weight must come from the checkpoint
    torch.manual_seed(12345)
    result = fit(
        resumed,
        splits,
        config,
        tmp_path / "run",
        source_text="",
        resume=True,
        layers=[node.name for node in graph.nodes],
        **QUIET,
    )
    assert result.stop_reason == "completed" and len(result.history) == 4
    ref, res = reference.state_dict(), resumed.state_dict()
    assert all(torch.equal(ref[k], res[k]) for k in ref)
