"""What training minimises: LossConfig + Penalty list -> data loss and penalty term.

The L1/L2 penalties are the course's formulas, added to the data loss; they are distinct from an
optimiser's weight_decay (which AdamW decouples from the gradient altogether).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import torch
import torch.nn.functional as F

from netlang.train.config import LossConfig, Penalty

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# Layers whose `weight` is a scale, not a connection weight: never penalised.
NORM_LAYERS = (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm)


def build_loss(config: LossConfig, device: torch.device | None = None) -> LossFn:
    """The data loss `loss(outputs, targets) -> scalar mean over the batch`."""
    options = config.options
    match config.name:
        case "cross_entropy":
            smoothing = float(options.get("label_smoothing", 0.0))
            return lambda out, y: F.cross_entropy(out, y.long(), label_smoothing=smoothing)
        case "nll":
            return lambda out, y: F.nll_loss(out, y.long())
        case "mse":
            return lambda out, y: F.mse_loss(out, _regression_target(out, y))
        case "mae":
            return lambda out, y: F.l1_loss(out, _regression_target(out, y))
        case "huber":
            delta = float(options.get("delta", 1.0))
            return lambda out, y: F.huber_loss(out, _regression_target(out, y), delta=delta)
        case "bce":
            return lambda out, y: F.binary_cross_entropy(out, y.to(out.dtype).view_as(out))
        case "bce_with_logits":
            pos = options.get("pos_weight")
            weight = None if pos is None else torch.tensor(float(pos), device=device)
            return lambda out, y: F.binary_cross_entropy_with_logits(
                out, y.to(out.dtype).view_as(out), pos_weight=weight
            )
    raise ValueError(f"unknown loss {config.name!r}")


def _regression_target(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Class ids against [N, C] outputs become one-hot rows; anything else is reshaped."""
    if not y.is_floating_point() and out.dim() == 2 and out.shape[1] > 1:
        return F.one_hot(y.long(), out.shape[1]).to(out.dtype)
    return y.to(out.dtype).view_as(out)


def penalised_weights(
    module: torch.nn.Module, names: Collection[str] | None = None
) -> list[torch.nn.Parameter]:
    """The connection weights that L1/L2 act on: conv, linear, embedding and rnn weights.

    Args:
        module: the model.
        names: the exact state_dict names to penalise (the IR knows them); None selects every
            parameter whose own name starts with `weight` outside normalisation layers.
    """
    if names is not None:
        params = dict(module.named_parameters())
        return [params[name] for name in names]
    return [
        param
        for layer in module.modules()
        if not isinstance(layer, NORM_LAYERS)
        for name, param in layer.named_parameters(recurse=False)
        if name.startswith("weight")
    ]


def penalty(
    weights: Sequence[torch.Tensor], penalties: Sequence[Penalty], examples: int
) -> torch.Tensor | None:
    """The regularisation term added to the loss, or None when there is none.

    L2 = (λ/n)·Σ_l ‖W_l‖² and L1 = (λ/n)·Σ_l Σ|W_l|, summed over the weight tensors W_l, where n is
    the number of training examples (not the batch size), as in the course's cost function.
    """
    terms = []
    for term in penalties:
        if term.strength == 0 or not weights:
            continue
        total = sum((w.abs().sum() if term.kind == "l1" else w.pow(2).sum()) for w in weights)
        terms.append(total * (term.strength / examples))
    return sum(terms[1:], terms[0]) if terms else None
