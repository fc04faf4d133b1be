"""The GAMDSS spatial stream: a "position calibration" ViT on the downsized start frame.

The frame is resized to the temporal stream's output grid (14 x 14 at 224 inputs), each pixel
becomes a token (1 x 1 patch convolution), a learned position embedding is added and a few
pre-LN transformer blocks run; the output is a (B, dim, g, g) map added to the motion features.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class PositionViT(nn.Module):
    def __init__(self, *, in_channels: int, dim: int, grid: int, depth: int, num_heads: int,
                 mlp_ratio: float) -> None:
        super().__init__()
        self.grid = grid
        self.patch_embed = nn.Conv2d(in_channels, dim, kernel_size=1)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid, dim))
        self.blocks = nn.Sequential(*[
            nn.TransformerEncoderLayer(dim, num_heads, dim_feedforward=int(dim * mlp_ratio),
                                       dropout=0.0, activation="gelu", layer_norm_eps=1e-6,
                                       batch_first=True, norm_first=True)
            for _ in range(depth)
        ])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for block in self.blocks:
            nn.init.trunc_normal_(block.self_attn.in_proj_weight, std=0.02)
            nn.init.zeros_(block.self_attn.in_proj_bias)
            for linear in (block.self_attn.out_proj, block.linear1, block.linear2):
                nn.init.trunc_normal_(linear.weight, std=0.02)
                nn.init.zeros_(linear.bias)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        small = F.interpolate(frame, size=(self.grid, self.grid), mode="bilinear",
                              align_corners=False)
        tokens = self.patch_embed(small).flatten(2).transpose(1, 2) + self.pos_embed
        tokens = self.norm(self.blocks(tokens))
        return tokens.transpose(1, 2).reshape(frame.shape[0], -1, self.grid, self.grid)
