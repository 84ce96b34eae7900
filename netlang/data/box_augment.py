"""Augmentation that moves the targets with the pixels: `augment` calls + the target kind
("boxes" or "masks") -> one function (images, targets, generator) -> (images, targets).

hflip(p) mirrors an image and its boxes (x1, x2 -> W - x2, W - x1) or its mask; translate(pixels)
shifts each image by a random whole-pixel offset in [-pixels, pixels] on both axes, filling with
zeros (the same as zero padding and a random crop of the input's size), and shifts boxes (clipped
to the image; a box pushed out entirely becomes padding) or masks (background filled in) with
it; noise(std) touches the pixels only. Vectorised over the batch, random draws from the
generator only, like `netlang.data.augment`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netlang.data.args import suggest
from netlang.semantics.train_rules import is_number
from netlang.data.augment import noise
from netlang.semantics.train_spec import Call

if TYPE_CHECKING:
    import torch

Step = Callable[["torch.Tensor", "torch.Tensor", "torch.Generator"], tuple[Any, Any]]
PAIRED = {"hflip": ("p",), "translate": ("pixels",), "noise": ("std",)}


class PairedAugment:
    """Steps applied in order to (images, targets); the loader calls it with both."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        for step in self.steps:
            x, y = step(x, y, generator)
        return x, y


def make_paired_augment(calls: list[Call], target: str) -> PairedAugment:
    """The steps named by `calls` for `target` ("boxes" or "masks").

    Raises:
        ValueError: an augmentation that cannot move boxes or masks, or a bad argument.
    """
    return PairedAugment([_step(call, target) for call in calls])


def _step(call: Call, target: str) -> Step:
    if call.name not in PAIRED:
        raise ValueError(
            f"augmentation {call.name!r} cannot move {target} with the pixels"
            f"{suggest(call.name, PAIRED)}; use {', '.join(sorted(PAIRED))}"
        )
    args = call.bind(PAIRED[call.name])
    if call.name == "hflip":
        p = args.get("p", 0.5)
        if not is_number(p) or not 0 <= p <= 1:
            raise ValueError(f"hflip: p={p!r}: expected a probability in [0, 1]")
        return lambda x, y, g: hflip(x, y, g, float(p), target)
    if call.name == "translate":
        pixels = args.get("pixels")
        if isinstance(pixels, bool) or not isinstance(pixels, int) or pixels < 0:
            raise ValueError(f"translate: pixels={pixels!r}: expected a non-negative integer")
        return lambda x, y, g: translate(x, y, g, pixels, target)
    std = args.get("std")
    if not is_number(std) or std < 0:
        raise ValueError(f"noise: std={std!r}: expected a non-negative number")
    return lambda x, y, g: (noise(x, g, float(std)), y)


def hflip(
    x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, p: float, target: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror each sample and its boxes or mask left-right with probability `p`."""
    import torch

    flip = torch.rand(x.shape[0], generator=generator).to(x.device) < p
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if target == "masks":
        return x, torch.where(flip[:, None, None], y.flip(-1), y)
    width = x.shape[-1]
    mirrored = torch.stack(
        [width - y[..., 2], y[..., 1], width - y[..., 0], y[..., 3], y[..., 4]], -1
    )
    mirrored = torch.where(y[..., 4:] >= 0, mirrored, y)  # padding rows stay padding
    return x, torch.where(flip[:, None, None], mirrored, y)


def translate(
    x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, pixels: int, target: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift each sample by (dx, dy) drawn from [-pixels, pixels], zeros moving in."""
    import torch

    n, height, width = x.shape[0], x.shape[-2], x.shape[-1]
    shift = torch.randint(-pixels, pixels + 1, (n, 2), generator=generator).to(x.device)
    rows = torch.arange(height, device=x.device)[None, :] - shift[:, 1:2]  # source row per output
    cols = torch.arange(width, device=x.device)[None, :] - shift[:, 0:1]
    inside = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None]
    batch = torch.arange(n, device=x.device)[:, None, None]
    r, c = rows.clamp(0, height - 1)[:, :, None], cols.clamp(0, width - 1)[:, None, :]
    moved = x.permute(0, 2, 3, 1)[batch, r, c].permute(0, 3, 1, 2)
    x = torch.where(inside[:, None], moved, torch.zeros_like(moved))
    if target == "masks":
        return x, torch.where(inside, y[batch, r, c], torch.zeros_like(y))
    offset = torch.cat([shift, shift], 1).to(y.dtype)[:, None, :]
    limit = torch.tensor([width, height, width, height], dtype=y.dtype, device=y.device)
    boxes = torch.minimum((y[..., :4] + offset).clamp(min=0), limit)
    gone = (boxes[..., 2] <= boxes[..., 0]) | (boxes[..., 3] <= boxes[..., 1]) | (y[..., 4] < 0)
    shifted = torch.cat([boxes, y[..., 4:]], -1)
    return x, torch.where(gone[..., None], torch.full_like(y, -1.0), shifted)
