"""The GAMDSS model (DRT / BDRT): retention temporal stream + position ViT, fused, classified.

``GamdssNet.forward(diff, frame)`` takes the frame difference (peak - start) and the start frame.
The reference's BDRT is the same network also trained on the falling branch (apex - offset, apex)
with shared weights; that is mer-bench's generic ``two_branch`` training, so ``gamdss-bdrt`` has
exactly the parameters of ``gamdss-drt``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gamdss.retention import RetentionNetwork
from gamdss.spatial import PositionViT
from mer_bench.errors import ConfigError
from mer_bench.models import ModelSpec, TrainingBudget, two_branch


@dataclass(frozen=True)
class GamdssConfig:
    """Sizes of one GAMDSS network; ``input_size`` must be divisible by 2 ** len(dims)."""

    label: str
    input_size: int = 224
    in_channels: int = 3
    dims: tuple[int, ...] = (64, 128, 256, 512)
    depths: tuple[int, ...] = (1, 1, 2, 1)
    heads: tuple[int, ...] = (2, 2, 2, 2)
    init_values: tuple[float, ...] = (2, 2, 2, 2)
    heads_ranges: tuple[float, ...] = (4, 4, 6, 6)
    decomposed_stages: int = 2
    mlp_ratio: float = 3.0
    drop_path: float = 0.1
    spatial_depth: int = 2
    spatial_heads: int = 4
    spatial_mlp_ratio: float = 4.0

    def __post_init__(self) -> None:
        per_stage = (self.depths, self.heads, self.init_values, self.heads_ranges)
        if any(len(values) != len(self.dims) for values in per_stage):
            raise ConfigError(f"{self.label}: dims, depths, heads, init_values and heads_ranges "
                              "need one entry per stage")
        if self.input_size % 2 ** len(self.dims):
            raise ConfigError(f"{self.label}: input size {self.input_size} must be divisible by "
                              f"{2 ** len(self.dims)} (the stem and each stage merge halve it)")

    @property
    def grid(self) -> int:
        """Side of the final feature map, where the two streams meet (14 at 224)."""
        return self.input_size // 2 ** len(self.dims)


class GamdssNet(nn.Module):
    def __init__(self, config: GamdssConfig, num_classes: int) -> None:
        super().__init__()
        self.config = config
        dim = config.dims[-1]
        self.temporal = RetentionNetwork(
            in_channels=config.in_channels, dims=config.dims, depths=config.depths,
            heads=config.heads, init_values=config.init_values,
            heads_ranges=config.heads_ranges, decomposed_stages=config.decomposed_stages,
            mlp_ratio=config.mlp_ratio, drop_path=config.drop_path)
        self.spatial = PositionViT(in_channels=config.in_channels, dim=dim, grid=config.grid,
                                   depth=config.spatial_depth, num_heads=config.spatial_heads,
                                   mlp_ratio=config.spatial_mlp_ratio)
        self.expand = nn.Linear(dim, 2 * dim)
        self.norm = nn.BatchNorm2d(2 * dim)
        self.classifier = nn.Linear(2 * dim, num_classes)
        for linear in (self.expand, self.classifier):
            nn.init.trunc_normal_(linear.weight, std=0.02)
            nn.init.zeros_(linear.bias)

    def _check_inputs(self, diff: torch.Tensor, frame: torch.Tensor) -> None:
        c, s = self.config.in_channels, self.config.input_size
        expected = (c, s, s)
        for name, x in (("frame-diff", diff), ("frame", frame)):
            if x.dim() != 4 or tuple(x.shape[1:]) != expected:
                raise ConfigError(
                    f"{self.config.label} takes {c}x{s}x{s} frame-diff and frame inputs, got "
                    f"{name} of shape {tuple(x.shape)}: build the inputs at size {s}")

    def forward(self, diff: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        self._check_inputs(diff, frame)
        fused = self.temporal(diff) + self.spatial(frame).permute(0, 2, 3, 1)
        x = self.norm(self.expand(fused).permute(0, 3, 1, 2))
        x = x * torch.sigmoid(x)  # Swish
        return self.classifier(x.mean(dim=(2, 3)))


REFERENCE = GamdssConfig(label="GAMDSS reference size (gamdss-drt, gamdss-bdrt)")
# CPU size: 64 -> 32 (stem) -> 16 -> 8 -> 4; one block per stage, one ViT block, no drop path.
SMALL = GamdssConfig(label="GAMDSS small (gamdss-small, gamdss-small-2branch)", input_size=64,
                     dims=(16, 32, 64, 64), depths=(1, 1, 1, 1), drop_path=0.0, spatial_depth=1)

_INPUTS = ("frame-diff", "frame")

GAMDSS_DRT = ModelSpec(
    name="gamdss-drt",
    description="GAMDSS DRT (Liu et al. 2026): RMT-style retention on the apex-onset difference "
                "+ position ViT on the onset frame",
    build=lambda num_classes: GamdssNet(REFERENCE, num_classes),
    inputs=_INPUTS,
    input_size=REFERENCE.input_size,
    # The reference's schedule: AdamW, exponential decay 0.987 per epoch for the first 50 epochs.
    budget=TrainingBudget(epochs=199, batch_size=16, lr=8e-4, weight_decay=0.6, lr_gamma=0.987,
                          lr_decay_epochs=50),
    resources={"cpu": 2, "gpu": 0.5},
)
GAMDSS_BDRT = two_branch(GAMDSS_DRT, "gamdss-bdrt")

GAMDSS_SMALL = ModelSpec(
    name="gamdss-small",
    description="GAMDSS DRT at CPU size (64 px, dims 16-64, one block per stage)",
    build=lambda num_classes: GamdssNet(SMALL, num_classes),
    inputs=_INPUTS,
    input_size=SMALL.input_size,
    budget=TrainingBudget(epochs=20, batch_size=16, lr=1e-3, weight_decay=0.05),
    resources={"cpu": 1, "gpu": 0.25},
)
GAMDSS_SMALL_2BRANCH = two_branch(GAMDSS_SMALL, "gamdss-small-2branch")
