"""Model specs: how the core builds, feeds and trains a registered model."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

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

    ``inputs`` names the input representations its ``forward`` takes, in order, each
    ``input_size`` x ``input_size``. A ``two_branch`` model is trained on the rising
    (onset -> apex) inputs plus, with the same weights, an auxiliary loss on the falling
    (apex -> offset) inputs; it predicts from the rising branch only, so it has exactly the
    parameters of its single-branch base. ``resources`` is what an executor reserves per job.
    """

    name: str
    description: str
    build: Callable[[int], "nn.Module"]
    inputs: tuple[str, ...]
    input_size: int
    budget: TrainingBudget
    two_branch: bool = False
    resources: Mapping[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})


def two_branch(spec: ModelSpec, name: str | None = None) -> ModelSpec:
    """The two-branch (rising + weight-shared falling) variant of any single-branch model."""
    return replace(spec, name=name or f"{spec.name}-2branch", two_branch=True,
                   description=f"{spec.description}; two-branch training (apex->offset "
                               "auxiliary loss, shared weights)")


MODELS: Registry[ModelSpec] = Registry("model", entry_point_group="mer_bench.models")


def count_parameters(module: "nn.Module") -> int:
    return sum(p.numel() for p in module.parameters())


def count_flops(spec: ModelSpec, num_classes: int, channels: Sequence[int]) -> int:
    """FLOPs of one forward pass on one sample (torch's flop counter; a multiply-add is 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = spec.build(num_classes).eval()
    dummies = [torch.zeros(1, c, spec.input_size, spec.input_size) for c in channels]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*dummies)
    return int(counter.get_total_flops())
