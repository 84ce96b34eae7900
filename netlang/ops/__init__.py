"""The op registry, one module per family; importing this package registers every op."""

from netlang.ops import activation, conv, dense, merge, norm, pool, reshape, rnn  # noqa: F401
from netlang.ops.registry import REGISTRY, Attr, OpSpec, ShapeError

__all__ = ["REGISTRY", "Attr", "OpSpec", "ShapeError"]
