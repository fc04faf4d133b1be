"""MMNet-style model (after Li et al., IJCAI 2022): frame-difference motion plus a position ViT.

Two streams meet on one 14x14 feature map:

- the main (motion) branch, a ResNet-like stack of residual blocks with channel attention, reads the
  frame difference peak - start and downsamples it to 14x14;
- the position-calibration branch, a small ViT, reads the start frame resized to 14x14 (one token
  per position, a learned position embedding) and returns a map of the same shape, which is added
  to the motion features so that each motion feature knows where on the face it lies.

The sum goes through a per-position linear layer, batch norm and Swish, is averaged over the 196
positions and classified by one linear layer. ``mmnet-small`` is a compact CPU version: 112x112
inputs, one block per stage with widths 32/64/128 and a two-block, 128-wide ViT.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mer_bench.models import ModelSpec, TrainingBudget


class ChannelAttention(nn.Module):
    """Rescales channels by a bottleneck MLP shared over average- and max-pooled descriptors."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size=1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))
        return x * torch.sigmoid(scores)


class AttentionBlock(nn.Module):
    """A basic residual block whose residual branch ends in channel attention."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            ChannelAttention(out_channels),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.residual(x) + self.shortcut(x))


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.heads, dim // self.heads).unbind(2)
        attended = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                                  v.transpose(1, 2))
        return self.out(attended.transpose(1, 2).reshape(batch, tokens, dim))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: attention then a GELU MLP, each with a residual."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PositionCalibration(nn.Module):
    """A ViT over the start frame at the feature-map resolution, returned as a feature map."""

    def __init__(self, dim: int, grid: int, depth: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.grid = grid
        self.embed = nn.Conv2d(3, dim, kernel_size=1)
        self.position = nn.Parameter(torch.zeros(1, grid * grid, dim))
        nn.init.trunc_normal_(self.position, std=0.02)
        self.blocks = nn.Sequential(*(TransformerBlock(dim, heads, mlp_ratio)
                                      for _ in range(depth)))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        small = F.interpolate(frame, size=(self.grid, self.grid), mode="bilinear",
                              align_corners=False)
        tokens = self.embed(small).flatten(2).transpose(1, 2) + self.position
        tokens = self.norm(self.blocks(tokens))
        return tokens.transpose(1, 2).reshape(frame.shape[0], -1, self.grid, self.grid)


class MMNet(nn.Module):
    def __init__(self, num_classes: int, input_size: int = 112,
                 widths: tuple[int, ...] = (32, 64, 128), vit_depth: int = 2, heads: int = 4,
                 mlp_ratio: float = 2.0, head_width: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        # The stem halves the size and every stage after the first halves it again.
        self.input_size = input_size
        self.grid = input_size // 2 ** len(widths)
        stages: list[nn.Module] = [
            nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        ]
        in_channels = widths[0]
        for index, width in enumerate(widths):
            stages.append(AttentionBlock(in_channels, width, stride=1 if index == 0 else 2))
            in_channels = width
        self.motion = nn.Sequential(*stages)
        self.position = PositionCalibration(widths[-1], self.grid, vit_depth, heads, mlp_ratio)
        self.head = nn.Sequential(
            nn.Conv2d(widths[-1], head_width, kernel_size=1),
            nn.BatchNorm2d(head_width),
            nn.SiLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(head_width, num_classes),
        )

    def forward(self, frame_diff: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        size = tuple(frame_diff.shape[-2:])
        if size != (self.input_size, self.input_size) or tuple(frame.shape[-2:]) != size:
            raise ValueError(f"MMNet expects two {self.input_size}x{self.input_size} inputs, "
                             f"got {tuple(frame_diff.shape[-2:])} and {tuple(frame.shape[-2:])}")
        return self.head(self.motion(frame_diff) + self.position(frame))


MMNET_SMALL = ModelSpec(
    name="mmnet-small",
    description="MMNet-style (Li et al. 2022), compact: channel-attention ResNet on the "
                "apex-onset frame difference + position-calibration ViT on the onset frame",
    build=lambda num_classes: MMNet(num_classes),
    inputs=("frame-diff", "frame"),
    input_size=112,
    budget=TrainingBudget(epochs=40, batch_size=16, lr=5e-4, weight_decay=1e-4),
)
