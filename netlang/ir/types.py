"""Tensor types of the IR: a dtype and a shape whose dims are ints or symbolic names."""

from __future__ import annotations

import math
from dataclasses import dataclass

Dim = int | str  # str: a symbolic dim such as the batch "N" or a sequence length "T"
Shape = tuple[Dim, ...]
DTYPES = ("float32", "float16", "float64", "int64", "int32", "bool")  # the element types


@dataclass(frozen=True, slots=True)
class TensorType:
    dtype: str  # "float32", "int64", ...
    shape: Shape

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_shape(self, shape: Shape) -> TensorType:
        return TensorType(self.dtype, tuple(shape))

    def __str__(self) -> str:
        return format_shape(self.shape)


def format_shape(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def numel(shape: Shape) -> int:
    """Element count of a fully static shape (symbolic dims count as 1: per sample)."""
    return math.prod(d for d in shape if isinstance(d, int))
