"""STSTNet: the shallow triple-stream network on 28x28 (u, v, optical strain) inputs.

Three parallel 3x3 convolutions (3, 5 and 8 channels), each followed by ReLU, batch norm, a
3x3/3 max pool and dropout; the 16 concatenated maps are average-pooled to 5x5 and classified by
one linear layer. With three classes this is 1,683 parameters, the published count.
"""

from __future__ import annotations

import torch
from torch import nn

from mer_bench.models import ModelSpec, TrainingBudget, two_branch


class _Stream(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(out_channels),
            nn.MaxPool2d(kernel_size=3, stride=3, padding=1),
            nn.Dropout(dropout),
        )


class STSTNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        self.streams = nn.ModuleList(
            _Stream(in_channels, width, dropout) for width in (3, 5, 8)
        )
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.classifier = nn.Linear(16 * 5 * 5, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.cat([stream(x) for stream in self.streams], dim=1)
        return self.classifier(self.pool(features).flatten(1))


STSTNET = ModelSpec(
    name="ststnet",
    description="STSTNet (Liong et al. 2019): shallow triple-stream CNN on onset->apex flow",
    build=lambda num_classes: STSTNet(num_classes),
    inputs=("flow-strain",),
    input_size=28,
    budget=TrainingBudget(epochs=60, batch_size=32, lr=1e-3, weight_decay=1e-4),
)

# GAMDSS's plug-in claim on another host: the same STSTNet, trained with the apex->offset branch.
STSTNET_2BRANCH = two_branch(STSTNET)
