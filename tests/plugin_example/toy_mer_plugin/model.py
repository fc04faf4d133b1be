"""A model: a `ModelSpec` whose ``build(num_classes)`` returns an untrained ``nn.Module``."""

from torch import nn

from mer_bench.models import ModelSpec, TrainingBudget


class TinyNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(4, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


TINYNET = ModelSpec(
    name="tinynet",  # the same name as its entry point
    description="a one-layer CNN on the apex - onset frame difference (example plugin)",
    build=lambda num_classes: TinyNet(num_classes),
    inputs=("frame-diff",),
    input_size=28,
    budget=TrainingBudget(epochs=2, batch_size=8, lr=1e-3),
)
