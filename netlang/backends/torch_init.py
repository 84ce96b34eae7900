"""Weight initialisation for lowered torch modules: an init scheme name -> parameters set in place.

"default" keeps torch's own initialisation. The other schemes set weights by the named rule and
biases to zero; normalisation layers keep torch's weight 1, bias 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from netlang.ops.registry import INIT

SCHEMES: tuple[str, ...] = INIT.choices
_CONVOLUTIONS = frozenset({"conv1d", "conv2d", "conv_transpose2d"})


def _kaiming(weight: torch.Tensor, op: str) -> None:
    # He et al. for ReLU networks; conv layers use fan_out as torchvision's ResNet does.
    mode = "fan_out" if op in _CONVOLUTIONS else "fan_in"
    nn.init.kaiming_normal_(weight, mode=mode, nonlinearity="relu")


_WEIGHT_RULES: dict[str, Callable[[torch.Tensor, str], None]] = {
    "kaiming": _kaiming,
    "xavier": lambda weight, op: nn.init.xavier_uniform_(weight),
    "normal": lambda weight, op: nn.init.normal_(weight, 0.0, 0.01),
    "zeros": lambda weight, op: nn.init.zeros_(weight),
}


def scheme_for(op_init: str | None, model_init: str | None) -> str:
    """The scheme a layer gets: its own unless "default", then the model's, then torch's.

    Ops without an `init` attribute (`op_init` None: normalisation layers) always keep torch's.
    """
    if op_init is None:
        return "default"
    return op_init if op_init != "default" else model_init or "default"


def initialize(module: nn.Module, op: str, scheme: str) -> None:
    """Re-initialise `module`'s own parameters (as lowered from an `op` node) by `scheme`."""
    if scheme == "default":
        return
    rule = _WEIGHT_RULES[scheme]
    with torch.no_grad():
        for name, parameter in module.named_parameters(recurse=False):
            if name.startswith("bias"):
                nn.init.zeros_(parameter)
            else:
                rule(parameter, op)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            module.weight[module.padding_idx].zero_()  # the padding token's vector stays zero
