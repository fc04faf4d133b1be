"""HTNet-style hierarchical transformer over facial regions, on 28x28 flow + strain.

After HTNet (Wang et al.): the flow image is cut into patches (7x7: a 4x4 token grid), and the
hierarchy runs from local to global:

- the lowest level splits the token grid into four facial regions, the 14x14 image quadrants
  (the two eye/brow areas and the two lip corners), and runs transformer blocks inside each
  region only, so that each region learns its own local motion;
- between levels an aggregation step (3x3 convolution to the next width, layer norm, 3x3/2 max
  pool) halves the grid, merging each region's tokens;
- the higher levels run transformer blocks across all remaining tokens, i.e. across regions,
  to relate eye and lip motion.

The classifier averages the last level's tokens. ``htnet`` is the released configuration (patch 7,
widths 256/512/1024, 3/6/12 heads of 64, blocks 2/2/10); ``htnet-small`` the compact one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mer_bench.models import ModelSpec, TrainingBudget


@dataclass(frozen=True)
class HTNetConfig:
    image_size: int = 28
    patch_size: int = 7
    widths: tuple[int, ...] = (256, 512, 1024)
    heads: tuple[int, ...] = (3, 6, 12)
    depths: tuple[int, ...] = (2, 2, 10)
    head_dim: int = 64
    mlp_ratio: int = 4
    dropout: float = 0.0


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of a (batch, channels, height, width) map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(dim, 3 * heads * head_dim, bias=False)
        self.out = nn.Sequential(nn.Linear(heads * head_dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        q, k, v = (self.qkv(x).view(batch, tokens, 3, self.heads, self.head_dim)
                   .permute(2, 0, 3, 1, 4).unbind(0))
        attended = F.scaled_dot_product_attention(q, k, v)
        return self.out(attended.transpose(1, 2).reshape(batch, tokens, -1))


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, mlp_ratio: int,
                 dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = Attention(dim, heads, head_dim, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(dim * mlp_ratio, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class RegionLevel(nn.Module):
    """Transformer blocks run separately inside each of regions x regions blocks of the grid."""

    def __init__(self, dim: int, grid: int, regions: int, depth: int, heads: int,
                 head_dim: int, mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.regions = regions
        self.position = nn.Parameter(torch.zeros(1, dim, grid, grid))
        nn.init.trunc_normal_(self.position, std=0.02)
        self.blocks = nn.Sequential(*(TransformerBlock(dim, heads, head_dim, mlp_ratio, dropout)
                                      for _ in range(depth)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, dim, grid, _ = x.shape
        r, side = self.regions, grid // self.regions
        # (B, D, r*side, r*side) -> (B*r*r, side*side, D): one token sequence per region
        tokens = ((x + self.position).view(batch, dim, r, side, r, side)
                  .permute(0, 2, 4, 3, 5, 1).reshape(batch * r * r, side * side, dim))
        tokens = self.blocks(tokens)
        return (tokens.view(batch, r, r, side, side, dim).permute(0, 5, 1, 3, 2, 4)
                .reshape(batch, dim, grid, grid))


class Aggregate(nn.Sequential):
    """Merges neighbouring tokens: 3x3 conv to the next width, norm, 3x3/2 max pool."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__(
            nn.Conv2d(dim_in, dim_out, kernel_size=3, padding=1),
            ChannelNorm(dim_out),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )


class HTNet(nn.Module):
    def __init__(self, num_classes: int, config: HTNetConfig, in_channels: int = 3) -> None:
        super().__init__()
        grid, remainder = divmod(config.image_size, config.patch_size)
        if remainder or grid % 2:
            raise ValueError(f"HTNet needs an even token grid: image {config.image_size} "
                             f"is not an even multiple of patch {config.patch_size}")
        self.config = config
        self.embed = nn.Sequential(
            nn.Conv2d(in_channels, config.widths[0], config.patch_size,
                      stride=config.patch_size),
            ChannelNorm(config.widths[0]),
        )
        levels: list[nn.Module] = []
        for index, (width, heads, depth) in enumerate(zip(config.widths, config.heads,
                                                          config.depths)):
            if index:
                levels.append(Aggregate(config.widths[index - 1], width))
                grid = (grid + 1) // 2
            regions = 2 if index == 0 else 1  # the four facial quadrants, then everything
            levels.append(RegionLevel(width, grid, regions, depth, heads, config.head_dim,
                                      config.mlp_ratio, config.dropout))
        self.levels = nn.Sequential(*levels)
        self.norm = nn.LayerNorm(config.widths[-1])
        self.classifier = nn.Linear(config.widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.config.image_size
        if tuple(x.shape[-2:]) != (size, size):
            raise ValueError(f"HTNet expects {size}x{size} inputs, got "
                             f"{x.shape[-2]}x{x.shape[-1]}")
        features = self.levels(self.embed(x))
        return self.classifier(self.norm(features.mean(dim=(2, 3))))


HTNET_SMALL_CONFIG = HTNetConfig(widths=(64, 128, 256), heads=(2, 4, 8), depths=(2, 2, 2),
                                 head_dim=32, dropout=0.1)
HTNET_CONFIG = HTNetConfig()

HTNET_SMALL = ModelSpec(
    name="htnet-small",
    description="HTNet-style (Wang et al.), compact: region transformers on the four flow "
                "quadrants, then aggregation across regions",
    build=lambda num_classes: HTNet(num_classes, HTNET_SMALL_CONFIG),
    inputs=("flow-strain",),
    input_size=28,
    budget=TrainingBudget(epochs=60, batch_size=32, lr=5e-4, weight_decay=0.05),
)

HTNET = ModelSpec(
    name="htnet",
    description="HTNet-style (Wang et al.), released size (widths 256/512/1024, blocks "
                "2/2/10): region transformers on the four flow quadrants, then across regions",
    build=lambda num_classes: HTNet(num_classes, HTNET_CONFIG),
    inputs=("flow-strain",),
    input_size=28,
    budget=TrainingBudget(epochs=60, batch_size=32, lr=5e-5, weight_decay=0.05),
    resources={"cpu": 2, "gpu": 1},  # 129 M parameters: a GPU of its own
)
