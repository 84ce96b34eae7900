"""Augmentation: `augment` calls of a train section -> one function (batch, generator) -> batch.

Each step is vectorised over the batch (a per-sample random draw, then one tensor op), so it
costs a few kernel launches per batch rather than Python work per sample. The trainer applies it
to training batches only. All randomness comes from the generator passed in, so a run is
repeatable. torch is imported inside the functions: importing netlang.data stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netlang.data.args import suggest
from netlang.data.resize import parse_size
from netlang.semantics import train_rules as rules
from netlang.semantics.train_schema import SCHEMA
from netlang.semantics.train_spec import Call

if TYPE_CHECKING:
    import torch

Augment = Callable[["torch.Tensor", "torch.Generator"], "torch.Tensor"]
PIXEL_MOVES = ("random_crop", "hflip", "rotate")  # steps that need image batches


def make_augment(calls: list[Call]) -> Augment:
    """The steps named by `calls`, applied in order.

    Calls: random_crop(size=<input size>, padding=0), hflip(p=0.5),
    rotate(degrees) (uniform in [-degrees, degrees], or in [lo, hi] for a pair), noise(std).
    The inputs of a multi-input batch (a tuple) are augmented one by one, each by the steps that
    fit it: the pixel moves act on image batches [N, C, H, W], noise on float inputs; `check`
    refuses a pixel move that no input can take.

    Raises:
        ValueError: an unknown augmentation, argument or argument value.
    """
    steps = [(call.name, _step(call)) for call in calls]

    def augment(x: Any, generator: torch.Generator) -> Any:
        if isinstance(x, tuple):
            return tuple(_fitting(steps, part, generator) for part in x)
        for _, step in steps:
            x = step(x, generator)
        return x

    return augment


def _fitting(
    steps: list[tuple[str, Augment]], x: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """One input of several, through the steps that apply to its kind."""
    for name, step in steps:
        if x.is_floating_point() and (name not in PIXEL_MOVES or x.ndim == 4):
            x = step(x, generator)
    return x


def _step(call: Call) -> Augment:
    table: Any = SCHEMA["augment"]
    if call.name not in table:
        raise ValueError(
            f"unknown augmentation {call.name!r}{suggest(call.name, table)}; "
            f"expected one of {', '.join(sorted(table))}"
        )
    defaults = {"random_crop": {"padding": 0}, "hflip": {"p": 0.5}}.get(call.name, {})
    args = rules.check_arguments("augment", call.name, {**defaults, **call.bind(table[call.name])})
    match call.name:
        case "random_crop":
            size = parse_size(args["size"]) if args.get("size") is not None else None
            padding = args["padding"]
            return lambda x, g: random_crop(x, g, size, padding)
        case "hflip":
            p = args["p"]
            return lambda x, g: hflip(x, g, p)
        case "rotate":
            low, high = rules.angle_range("train.augment.degrees", args.get("degrees"))
            return lambda x, g: rotate(x, g, low, high)
        case _:
            std = rules.non_negative("train.augment.std", args.get("std"))
            return lambda x, g: noise(x, g, std)


def random_crop(
    x: torch.Tensor, generator: torch.Generator, size: tuple[int, int] | None, padding: int
) -> torch.Tensor:
    """Zero-pad by `padding` on every side, then cut a `size` window (default: the input size)
    at a random offset per sample."""
    import torch
    import torch.nn.functional as F

    _require_images(x, "random_crop")
    n, height, width = x.shape[0], *(size or x.shape[-2:])
    if padding:
        x = F.pad(x, (padding, padding, padding, padding))
    if height > x.shape[-2] or width > x.shape[-1]:
        raise ValueError(
            f"random_crop: size {[height, width]} exceeds the padded input {list(x.shape[-2:])}"
        )
    top = _draw(torch.randint, generator, x, 0, x.shape[-2] - height + 1, (n,))
    left = _draw(torch.randint, generator, x, 0, x.shape[-1] - width + 1, (n,))
    rows = top[:, None, None] + torch.arange(height, device=x.device)[None, :, None]
    cols = left[:, None, None] + torch.arange(width, device=x.device)[None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None]
    # advanced indexing on [n, H, W, C] gives [n, height, width, C]
    return x.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def hflip(x: torch.Tensor, generator: torch.Generator, p: float) -> torch.Tensor:
    """Mirror each sample left-right with probability `p`."""
    import torch

    _require_images(x, "hflip")
    flip = _draw(torch.rand, generator, x, (x.shape[0],)) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def rotate(x: torch.Tensor, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    """Rotate each sample counter-clockwise about its centre by an angle drawn uniformly from
    [low, high] degrees; bilinear, zeros outside the image (torchvision's convention)."""
    import torch
    import torch.nn.functional as F

    _require_images(x, "rotate")
    n, height, width = x.shape[0], x.shape[-2], x.shape[-1]
    angle = torch.deg2rad(low + (high - low) * _draw(torch.rand, generator, x, (n,)))
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(angle)
    # output -> input sampling positions in normalised [-1, 1] coordinates; the aspect factors
    # make the rotation rigid in pixel space for non-square images
    theta = torch.stack(
        [
            torch.stack([cos, -sin * height / width, zero], -1),
            torch.stack([sin * width / height, cos, zero], -1),
        ],
        1,
    )
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def noise(x: torch.Tensor, generator: torch.Generator, std: float) -> torch.Tensor:
    """Add Gaussian noise N(0, std^2) to every value."""
    import torch

    if not x.is_floating_point():
        raise ValueError(f"noise needs float inputs, got {x.dtype}")
    return x + std * _draw(torch.randn, generator, x, tuple(x.shape)).to(x.dtype)


def _draw(sample: Any, generator: torch.Generator, x: torch.Tensor, *args: Any) -> torch.Tensor:
    """Random numbers from `generator` (on its own device), moved to x's device."""
    return sample(*args, generator=generator, device=generator.device).to(x.device)


def _require_images(x: torch.Tensor, name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} needs image batches [N, C, H, W], got shape {list(x.shape)}")
