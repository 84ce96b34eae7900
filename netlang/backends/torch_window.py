"""Swin's shifted-window attention and patch merging as torch modules with torchvision's
state_dict names."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from netlang.backends.windows import effective_shift, relative_position_index, shift_mask


class WindowAttention(nn.Module):
    """Multi-head self-attention within windows of [N, H, W, C], plus a learned bias per head
    and relative offset; the map is padded to whole windows and, with a shift, rolled first and
    masked so that no window mixes regions the roll brought together. Registration order gives
    torchvision's state_dict order: the table, the index, then qkv and proj."""

    def __init__(
        self, features: int, heads: int, window: tuple[int, int], shift: tuple[int, int]
    ) -> None:
        super().__init__()
        self.heads, self.window, self.shift = heads, window, shift
        rows = (2 * window[0] - 1) * (2 * window[1] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.empty(rows, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        index = torch.from_numpy(relative_position_index(window))
        self.register_buffer("relative_position_index", index)
        self.qkv = nn.Linear(features, 3 * features)
        self.proj = nn.Linear(features, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        (wh, ww), heads = self.window, self.heads
        x = F.pad(x, (0, 0, 0, (-w) % ww, 0, (-h) % wh))
        ph, pw = x.shape[1], x.shape[2]
        shift = effective_shift((h, w), self.window, self.shift)
        if any(shift):
            x = torch.roll(x, (-shift[0], -shift[1]), (1, 2))
        tokens = wh * ww
        x = x.view(n, ph // wh, wh, pw // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(-1, tokens, c)  # [N * windows, tokens, C]
        q, k, v = self.qkv(x).reshape(-1, tokens, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index]
        scores = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
        scores = scores + bias.view(tokens, tokens, heads).permute(2, 0, 1)
        if any(shift):
            mask = shift_mask((ph, pw), self.window, shift)
            mask = torch.tensor(mask, dtype=x.dtype, device=x.device)[:, None]  # [windows, 1, T, T]
            scores = scores.view(n, -1, heads, tokens, tokens) + mask
            scores = scores.view(-1, heads, tokens, tokens)
        x = (scores.softmax(-1) @ v).transpose(1, 2).reshape(-1, tokens, c)
        x = self.proj(x).view(n, ph // wh, pw // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(n, ph, pw, c)
        if any(shift):
            x = torch.roll(x, shift, (1, 2))
        return x[:, :h, :w, :]


class PatchMerging(nn.Module):
    """[N, H, W, C] -> [N, H/2, W/2, 2C]: the four positions of each 2 x 2 group side by side
    (odd sizes padded by one), layer norm, linear without bias; `reduction` registered first, as
    in torchvision's state_dict."""

    def __init__(self, features: int, eps: float) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * features, 2 * features, bias=False)
        self.norm = nn.LayerNorm(4 * features, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 0, 0, x.shape[2] % 2, 0, x.shape[1] % 2))
        corners = [x[:, i::2, j::2, :] for j in (0, 1) for i in (0, 1)]
        return self.reduction(self.norm(torch.cat(corners, -1)))
