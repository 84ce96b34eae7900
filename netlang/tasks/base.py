"""What every task provides, and the evaluation pass they share.

A `Task` turns a run's data into (input, target) pairs (`prepare`), names its default loss and
its per-epoch metric (`batch_metric`: a sum and a count per batch, so epochs and ranks add up),
and writes its test report (`report`: console lines, test.json fields, pictures). `collect`
runs a module over a data set once, keeping every output, for the reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from netlang.data.inputs import arguments, to_device

if TYPE_CHECKING:
    from netlang.data import DataSplits, Dataset

Log = Callable[[str], Any]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Collected:
    """A module's outputs over a whole data set (on the CPU), with the inputs it saw."""

    outputs: list[torch.Tensor]  # one tensor per model output, in output order
    targets: torch.Tensor
    inputs: Any  # what the module was given (noisy, if an augmentation was applied); a tuple
    # of tensors, one per input, for a multi-input model
    loss: float  # mean data loss of the first output against the targets

    @property
    def out(self) -> torch.Tensor:
        return self.outputs[0]


@dataclass
class TestContext:
    """What a task's report may use: the trained module, the test split, where to write."""

    module: torch.nn.Module
    dataset: Dataset
    splits: DataSplits
    run_dir: Path
    loader: Any  # netlang.data.make_loader's signature
    device: torch.device
    batch: int
    loss_fn: LossFn
    log: Log
    model: str  # the model's name, for titles
    loss_name: str = "cross_entropy"
    split: str = "test"
    augment: Any = None  # the training augmentation, for tasks that show its effect
    best: dict[str, torch.Tensor] | None = None  # the best epoch's weights, for pictures
    best_epoch: int | None = None
    output_names: tuple[str, ...] = ()  # the model's output names, in order
    task_options: dict[str, Any] = field(default_factory=dict)  # `task name(...)`'s arguments
    loss_options: dict[str, Any] = field(default_factory=dict)

    def collect(self, dataset: Dataset | None = None, augment: Any = None) -> Collected:
        return collect(
            self.module,
            self.dataset if dataset is None else dataset,
            batch=self.batch,
            loader=self.loader,
            device=self.device,
            loss_fn=self.loss_fn,
            augment=augment,
        )


class Task:
    """The defaults are classification's; each task module overrides what differs."""

    name = "task"
    default_loss = "cross_entropy"
    metric = "accuracy"  # history columns train_<metric> / val_<metric>
    higher_is_better = True

    def prepare(self, splits: DataSplits) -> DataSplits:
        """The splits with each Dataset's `y` the target the loss compares outputs with."""
        return splits

    def objective(self, name: str, options: dict[str, Any], default: LossFn) -> LossFn:
        """The loss `name` for this task's outputs; `default` is the plain one (objective.py)."""
        return default

    def batch_metric(
        self, out: torch.Tensor, y: torch.Tensor, loss: str
    ) -> tuple[torch.Tensor, int] | None:
        """(sum, count) of the per-epoch metric in one batch; None where it means nothing."""
        return None

    def augment(self, calls: list[Any], config: Any) -> Any:
        """An augmentation that moves the targets with the inputs, (x, y, generator) -> (x, y);
        None: the plain input-only augmentation (netlang.data.make_augment)."""
        return None

    def report(self, context: TestContext) -> dict[str, Any]:
        """Evaluate on the test split: log the figures, draw the pictures, return test.json."""
        result = context.collect()
        context.log(f"{context.split}: loss {result.loss:.4f} on {len(result.targets)} examples")
        return {"loss": result.loss, "examples": len(result.targets)}


@torch.no_grad()
def collect(
    module: torch.nn.Module,
    dataset: Dataset,
    *,
    batch: int,
    loader: Any,
    device: torch.device,
    loss_fn: LossFn,
    augment: Any = None,
) -> Collected:
    """Every output of `module` over `dataset` in eval mode (restored after). With `augment`, the
    inputs are transformed first, with a fixed generator, so the same inputs are seen each time."""
    was_training = module.training
    module.eval()
    outputs: list[list[torch.Tensor]] = []
    targets, inputs = [], []
    total, seen = 0.0, 0
    generator = torch.Generator().manual_seed(0)
    try:
        for x, y in loader(dataset, batch, shuffle=False, seed=0):
            x = x if isinstance(x, tuple) else torch.as_tensor(x)
            if augment is not None:
                x = augment(x, generator)
            x, y = to_device(x, device), torch.as_tensor(y).to(device)
            out = module(*arguments(x))
            out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            total += float(loss_fn(out[0], y)) * len(y)
            seen += len(y)
            outputs.append([o.float().cpu() for o in out])
            targets.append(y.cpu())
            inputs.append(tuple(part.cpu() for part in arguments(x)))
    finally:
        module.train(was_training)
    return Collected(
        [torch.cat(parts) for parts in zip(*outputs)],
        torch.cat(targets),
        _joined(inputs),
        total / max(seen, 1),
    )


def _joined(batches: list[tuple[torch.Tensor, ...]]) -> Any:
    """The batches' inputs end to end: one tensor, or a tuple of them for several inputs."""
    joined = tuple(torch.cat(parts) for parts in zip(*batches))
    return joined[0] if len(joined) == 1 else joined


@torch.no_grad()
def with_weights(module: torch.nn.Module, weights: dict[str, torch.Tensor] | None) -> Any:
    """A context in which `module` holds `weights` (the best epoch's), restored after."""
    import contextlib

    @contextlib.contextmanager
    def swapped() -> Any:
        if weights is None:
            yield module
            return
        current = {k: v.detach().clone() for k, v in module.state_dict().items()}
        module.load_state_dict(weights)
        try:
            yield module
        finally:
            module.load_state_dict(current)

    return swapped()
