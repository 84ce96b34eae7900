"""The op registry, one module per family; importing this package registers every op.

Owns each op's attribute schema, shape rule, parameters and cost. May import diagnostics and
ir; the backends' lowerings are keyed by these op names, never the other way round.
"""

from netlang.ops import (  # noqa: F401
    activation,
    attention,
    cast,
    conv,
    dense,
    learned,
    merge,
    norm,
    pool,
    reshape,
    rnn,
    window,
)
from netlang.ops.registry import REGISTRY, Attr, OpSpec, ShapeError

__all__ = ["REGISTRY", "Attr", "OpSpec", "ShapeError"]
