"""The GAMDSS temporal stream: an RMT-style retention network on the frame difference.

Attention here is "Manhattan self-attention": the logits of head h get log(gamma_h) times the
Manhattan distance between query and key positions, so after the softmax a key d steps away
weighs gamma_h ** d relative to the query's own position. Early, high-resolution stages use the
decomposed form (attention along the width, then along the height, each with a 1-D decay);
later stages attend over the whole 2-D grid. Tensors stay channels-last (B, H, W, C) between
modules, as in the reference.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def head_log_decays(num_heads: int, init_value: float, heads_range: float) -> torch.Tensor:
    """log(gamma_h) for gamma_h = 1 - 2^-(init_value + heads_range * h / num_heads)."""
    exponents = init_value + heads_range * torch.arange(num_heads, dtype=torch.float32) / num_heads
    return torch.log1p(-torch.pow(2.0, -exponents))


def manhattan_decay_mask(height: int, width: int, log_decays: torch.Tensor) -> torch.Tensor:
    """(heads, H*W, H*W) additive mask: log(gamma_h) * (|dy| + |dx|), positions row-major."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    grid = torch.stack([rows.flatten(), cols.flatten()], dim=1).to(log_decays)
    distance = (grid[:, None, :] - grid[None, :, :]).abs().sum(dim=-1)
    return log_decays[:, None, None] * distance


def axis_decay_mask(length: int, log_decays: torch.Tensor) -> torch.Tensor:
    """(heads, L, L) additive mask: log(gamma_h) * |i - j| along one axis."""
    index = torch.arange(length).to(log_decays)
    return log_decays[:, None, None] * (index[:, None] - index[None, :]).abs()


def rotary_tables(height: int, width: int, head_dim: int,
                  like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sin and cos tables (H, W, head_dim) of the theta shift, indexed by row-major position."""
    angle = 1.0 / 10000 ** torch.linspace(0, 1, head_dim // 2, dtype=like.dtype, device=like.device)
    angle = angle.repeat_interleave(2)
    index = torch.arange(height * width, dtype=like.dtype, device=like.device)
    phase = (index[:, None] * angle[None, :]).reshape(height, width, head_dim)
    return phase.sin(), phase.cos()


def theta_shift(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
    """Rotate each consecutive channel pair (x1, x2) by the position's angle (RoPE)."""
    rotated = torch.stack([-x[..., 1::2], x[..., ::2]], dim=-1).flatten(-2)
    return x * cos + rotated * sin


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample while training."""

    def __init__(self, probability: float = 0.0) -> None:
        super().__init__()
        self.probability = probability

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.probability == 0.0:
            return x
        keep = 1.0 - self.probability
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class DepthwiseConv(nn.Module):
    """A depthwise k x k convolution applied to a channels-last tensor."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2,
                              groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class Retention(nn.Module):
    """Manhattan self-attention on a (B, H, W, C) grid; ``decomposed`` picks the axis-wise form."""

    def __init__(self, dim: int, num_heads: int, *, decomposed: bool, init_value: float,
                 heads_range: float) -> None:
        super().__init__()
        if dim % num_heads or (dim // num_heads) % 2:
            raise ValueError(f"retention dim {dim} must split into {num_heads} heads of even size")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.decomposed = decomposed
        self.register_buffer("log_decays", head_log_decays(num_heads, init_value, heads_range),
                             persistent=False)
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.lepe = DepthwiseConv(dim, 5)
        self.out_proj = nn.Linear(dim, dim)
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            nn.init.xavier_normal_(proj.weight, gain=2 ** -2.5)
        nn.init.xavier_normal_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, heads, H, W, head_dim)."""
        b, h, w, _ = x.shape
        return x.reshape(b, h, w, self.num_heads, self.head_dim).permute(0, 3, 1, 2, 4)

    def _queries_keys(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Theta-shifted q and scaled k, each (B, heads, H, W, head_dim)."""
        sin, cos = rotary_tables(x.shape[1], x.shape[2], self.head_dim, x)
        q = theta_shift(self._split_heads(self.q_proj(x)), sin, cos)
        k = theta_shift(self._split_heads(self.k_proj(x) * self.head_dim ** -0.5), sin, cos)
        return q, k

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """(B, heads, H*W, H*W) weights of the whole 2-D form: softmax(q k^T + decay mask)."""
        q, k = self._queries_keys(x)
        q, k = q.flatten(2, 3), k.flatten(2, 3)
        mask = manhattan_decay_mask(x.shape[1], x.shape[2], self.log_decays)
        return torch.softmax(q @ k.transpose(-1, -2) + mask, dim=-1)

    def _axis_wise(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Attend along the width (per row), then along the height (per column)."""
        q, k = self._queries_keys(x)
        mask_w = axis_decay_mask(x.shape[2], self.log_decays)[:, None]
        mask_h = axis_decay_mask(x.shape[1], self.log_decays)[:, None]
        along_w = torch.softmax(q @ k.transpose(-1, -2) + mask_w, dim=-1) @ v
        q, k, along_w = q.transpose(2, 3), k.transpose(2, 3), along_w.transpose(2, 3)
        along_h = torch.softmax(q @ k.transpose(-1, -2) + mask_h, dim=-1) @ along_w
        return along_h.transpose(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        v_flat = self.v_proj(x)
        v = self._split_heads(v_flat)
        if self.decomposed:
            out = self._axis_wise(x, v)
        else:
            out = (self.attention_weights(x) @ v.flatten(2, 3)).reshape(v.shape)
        out = out.permute(0, 2, 3, 1, 4).reshape(b, h, w, c)
        return self.out_proj(out + self.lepe(v_flat))


class FeedForward(nn.Module):
    """Linear d -> r*d, GELU, residual depthwise 3x3, Linear r*d -> d."""

    def __init__(self, dim: int, ratio: float) -> None:
        super().__init__()
        hidden = int(dim * ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.subconv = DepthwiseConv(hidden, 3)
        self.fc2 = nn.Linear(hidden, dim)
        for fc in (self.fc1, self.fc2):
            nn.init.trunc_normal_(fc.weight, std=0.02)
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.fc1(x))
        return self.fc2(x + self.subconv(x))


class RetentionBlock(nn.Module):
    """Conditional position encoding, then pre-LN retention and feed-forward residuals."""

    def __init__(self, dim: int, num_heads: int, *, decomposed: bool, init_value: float,
                 heads_range: float, mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        self.position = DepthwiseConv(dim, 3)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.retention = Retention(dim, num_heads, decomposed=decomposed,
                                   init_value=init_value, heads_range=heads_range)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.ffn = FeedForward(dim, mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.position(x)
        x = x + self.drop_path(self.retention(self.norm1(x)))
        return x + self.drop_path(self.ffn(self.norm2(x)))


class PatchMerging(nn.Module):
    """Halve the resolution: Conv 3x3 stride 2 then batch norm (channels-last in and out)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(in_dim, out_dim, 3, stride=2, padding=1),
                                    nn.BatchNorm2d(out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def conv_stem(in_channels: int, dim: int) -> nn.Sequential:
    """Four 3x3 convolutions, only the first strided: the output is half the input's size."""
    half = dim // 2
    layers: list[nn.Module] = []
    for i, (cin, cout, stride) in enumerate([(in_channels, half, 2), (half, half, 1),
                                             (half, dim, 1), (dim, dim, 1)]):
        layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout)]
        if i < 3:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class RetentionNetwork(nn.Module):
    """Conv stem then one retention stage per entry of ``dims``; returns (B, g, g, dims[-1])."""

    def __init__(self, *, in_channels: int, dims: Sequence[int], depths: Sequence[int],
                 heads: Sequence[int], init_values: Sequence[float],
                 heads_ranges: Sequence[float], decomposed_stages: int, mlp_ratio: float,
                 drop_path: float) -> None:
        super().__init__()
        self.stem = conv_stem(in_channels, dims[0])
        blocks = sum(depths)
        rates = [drop_path * i / max(blocks - 1, 1) for i in range(blocks)]
        self.stages = nn.ModuleList()
        self.merges = nn.ModuleList()
        for i, (dim, depth) in enumerate(zip(dims, depths)):
            self.stages.append(nn.Sequential(*[
                RetentionBlock(dim, heads[i], decomposed=i < decomposed_stages,
                               init_value=init_values[i], heads_range=heads_ranges[i],
                               mlp_ratio=mlp_ratio, drop_path=rates.pop(0))
                for _ in range(depth)
            ]))
            if i + 1 < len(dims):
                self.merges.append(PatchMerging(dim, dims[i + 1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).permute(0, 2, 3, 1)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.merges):
                x = self.merges[i](x)
        return x
