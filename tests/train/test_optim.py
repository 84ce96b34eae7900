"""Optimisers and learning-rate schedules, against torch's own optimisers and schedulers."""

from __future__ import annotations

import math

import pytest
import torch

from netlang.train.config import OptimizerConfig, ScheduleConfig
from netlang.train.optim import LRSchedule, build_optimizer


def _param() -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))


def _steps(optimizer: torch.optim.Optimizer, param: torch.nn.Parameter, n: int = 3) -> None:
    for _ in range(n):
        optimizer.zero_grad()
        (param**2).sum().backward()
        optimizer.step()


@pytest.mark.parametrize(
    ("config", "reference"),
    [
        (
            OptimizerConfig("sgd", 0.1, {"momentum": 0.9, "nesterov": True}),
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        ),
        (
            OptimizerConfig("adam", 0.01, {"betas": (0.8, 0.99), "weight_decay": 0.1}),
            lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
        ),
        (
            OptimizerConfig("adamw", 0.01, {"weight_decay": 0.5}),
            lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.5),
        ),
        (
            OptimizerConfig("rmsprop", 0.01, {"alpha": 0.9, "momentum": 0.5}),
            lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5),
        ),
    ],
)
def test_each_optimizer_steps_like_torchs(config: OptimizerConfig, reference: object) -> None:
    ours, theirs = _param(), _param()
    _steps(build_optimizer([ours], config), ours)
    _steps(reference([theirs]), theirs)  # type: ignore[operator]
    assert not torch.equal(ours.detach(), torch.tensor([1.0, -2.0, 3.0]))
    assert torch.equal(ours.detach(), theirs.detach())


def _rates(
    config: ScheduleConfig, epochs: int, metrics: list[float] | None = None, lr: float = 0.1
) -> list[float]:
    optimizer = torch.optim.SGD([_param()], lr=lr)
    schedule = LRSchedule(optimizer, config, epochs)
    rates = []
    for epoch in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        schedule.end_epoch(epoch, {"val_loss": metrics[epoch] if metrics else None})
    return rates


def _torch_rates(make: object, epochs: int, metrics: list[float] | None = None) -> list[float]:
    optimizer = torch.optim.SGD([_param()], lr=0.1)
    scheduler = make(optimizer)  # type: ignore[operator]
    rates = []
    for epoch in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step(metrics[epoch]) if metrics else scheduler.step()
    return rates


def test_step_schedule_matches_steplr() -> None:
    ours = _rates(ScheduleConfig("step", 0, {"step_size": 3, "gamma": 0.5}), 10)
    theirs = _torch_rates(lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5), 10)
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_cosine_schedule_matches_cosine_annealing() -> None:
    ours = _rates(ScheduleConfig("cosine", 0, {"min_lr": 0.01}), 12)
    theirs = _torch_rates(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12, eta_min=0.01), 12
    )
    assert ours == pytest.approx(theirs, rel=1e-9)


def test_plateau_schedule_matches_reduce_lr_on_plateau() -> None:
    losses = [1.0, 0.9, 0.9, 0.95, 0.91, 0.8, 0.85, 0.86, 0.87, 0.9, 0.91, 0.92]
    ours = _rates(
        ScheduleConfig("plateau", 0, {"patience": 2, "factor": 0.5, "min_lr": 0.02}), 12, losses
    )
    theirs = _torch_rates(
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
            o, patience=2, factor=0.5, min_lr=0.02
        ),
        12,
        losses,
    )
    assert ours == theirs
    assert len(set(ours)) >= 3  # at least two reductions were compared


def test_warmup_ramps_linearly_then_hands_over_to_the_schedule() -> None:
    rates = _rates(ScheduleConfig("step", 2, {"step_size": 2, "gamma": 0.1}), 6)
    expected = [0.1 / 3, 0.2 / 3, 0.1, 0.1, 0.01, 0.01]
    assert rates == pytest.approx(expected, rel=1e-12)


def test_warmup_composes_with_cosine_over_the_remaining_epochs() -> None:
    rates = _rates(ScheduleConfig("cosine", 1, {}), 5)
    assert rates[0] == pytest.approx(0.05)
    assert rates[1:] == pytest.approx([0.1 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(4)])


def test_schedule_state_round_trips() -> None:
    optimizer = torch.optim.SGD([_param()], lr=0.1)
    config = ScheduleConfig("plateau", 0, {"patience": 0})
    schedule = LRSchedule(optimizer, config, 5)
    schedule.end_epoch(0, {"val_loss": 1.0})
    schedule.end_epoch(1, {"val_loss": 2.0})
    copy = LRSchedule(torch.optim.SGD([_param()], lr=0.1), config, 5)
    copy.load_state_dict(schedule.state_dict())
    assert copy.rates(2) == schedule.rates(2) == pytest.approx([0.01])
