"""The op registry, one module per family; importing this package registers every op."""

from netlang.ops import (  # noqa: F401
    activation,
    attention,
    conv,
    dense,
    learned,
    merge,
    norm,
    pool,
    reshape,
    rnn,
)
from netlang.ops.registry import REGISTRY, Attr, OpSpec, ShapeError

__all__ = ["REGISTRY", "Attr", "OpSpec", "ShapeError"]
