"""Several inputs a sample: named arrays -> the `x` of a multi-input model's Dataset, and the
batch they become (a tuple of tensors, in the model's input order, that `module(*x)` takes).

A single-input Dataset keeps a plain array as its `x`; these helpers accept both, so the loader,
the train step and the evaluations have one code path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Inputs:
    """Equally long arrays, one per model input, in the model's input order."""

    arrays: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        lengths = {name: len(a) for name, a in self.arrays.items()}
        if len(set(lengths.values())) > 1:
            given = ", ".join(f"{name} {n}" for name, n in lengths.items())
            raise ValueError(f"the inputs have different sample counts ({given})")

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def __getitem__(self, index: Any) -> Inputs:
        """The samples at `index` (a slice or an index array) of every input."""
        return Inputs({name: a[index] for name, a in self.arrays.items()})

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.arrays.values())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.arrays)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each input's shape per sample."""
        return {name: tuple(a.shape[1:]) for name, a in self.arrays.items()}

    def replace(self, **arrays: np.ndarray) -> Inputs:
        return Inputs({**self.arrays, **arrays})


def sample_shape(x: np.ndarray | Inputs) -> tuple[int, ...]:
    """A sample's shape: the array's, or the first input's (what config.json's input_shape
    and YOLO's image size read)."""
    return tuple(next(iter(x)).shape[1:]) if isinstance(x, Inputs) else tuple(x.shape[1:])


def as_tensors(x: np.ndarray | Inputs) -> Any:
    """The data set wrapped as tensors without a copy: one, or a tuple in input order."""
    if isinstance(x, Inputs):
        return tuple(_tensor(a) for a in x)
    return _tensor(x)


def take(x: Any, index: Any) -> Any:
    """Rows `index` (a slice, or a tensor of indices) of a tensor or a tuple of them."""
    if isinstance(x, tuple):
        return tuple(take(part, index) for part in x)
    return x[index] if isinstance(index, slice) else x.index_select(0, index)


def to_device(x: Any, device: torch.device, channels_last: bool = False) -> Any:
    """A batch's inputs on `device` (4-D ones NHWC when training channels_last)."""
    import torch

    if isinstance(x, tuple):
        return tuple(to_device(part, device, channels_last) for part in x)
    x = torch.as_tensor(x).to(device)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def arguments(x: Any) -> tuple[Any, ...]:
    """The positional arguments of the model call for a batch: `module(*arguments(x))`."""
    return x if isinstance(x, tuple) else (x,)


def _tensor(array: np.ndarray) -> torch.Tensor:
    import torch

    return torch.from_numpy(array if array.flags.writeable else array.copy())
