"""Model specs: how the core builds, feeds and trains a registered model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from mer_bench.registry import Registry

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class TrainingBudget:
    """A fixed budget: the model of the last epoch is the one evaluated (no test-subject selection)."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay}


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: ``build(num_classes)`` returns an untrained ``nn.Module``.

    ``input_kind`` and ``input_size`` name the representation it consumes (e.g. onset->apex
    flow + strain at 28x28); ``resources`` is what an executor reserves per job.
    """

    name: str
    description: str
    build: Callable[[int], "nn.Module"]
    input_kind: str
    input_size: int
    budget: TrainingBudget
    resources: Mapping[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})


MODELS: Registry[ModelSpec] = Registry("model", entry_point_group="mer_bench.models")


def count_parameters(module: "nn.Module") -> int:
    return sum(p.numel() for p in module.parameters())
