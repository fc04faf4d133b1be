"""Off-ApexNet: two convolution + pooling stages and two linear layers on 28x28 (u, v) optical flow.

Gan et al. (2019) feed the onset -> apex horizontal and vertical flow to the network; the MEB
re-implementation stacks them as one 2-channel input. Its published size, 807,909 parameters at
three classes, pins the layer widths: 3x3 convolutions with 6 and 16 filters and "same" padding,
each followed by ReLU and a 2x2 max pool (28 -> 14 -> 7), then 784 -> 1024 -> classes:

    conv1  2*9*6 + 6        =     114
    conv2  6*9*16 + 16      =     880
    fc1    784*1024 + 1024  = 803,840
    fc2    1024*3 + 3       =   3,075
                              807,909

Among 3/5/7 kernels, 4..128 filters per layer, same/valid padding, one or two streams and zero to
two hidden linear layers of 64..2048 units, this is the only layout that gives that count.
"""

from __future__ import annotations

import torch
from torch import nn

from mer_bench.models import ModelSpec, TrainingBudget


class OffApexNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 2, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
            nn.Conv2d(6, 16, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 7 * 7, 1024),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(1024, num_classes),
        )

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(flow))


OFFAPEXNET = ModelSpec(
    name="offapexnet",
    description="Off-ApexNet (Gan et al. 2019): two-layer CNN on onset->apex (u, v) flow",
    build=lambda num_classes: OffApexNet(num_classes),
    inputs=("flow",),
    input_size=28,
    budget=TrainingBudget(epochs=60, batch_size=32, lr=5e-4, weight_decay=1e-4),
)
