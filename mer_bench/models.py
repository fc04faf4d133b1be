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
    # Exponential learning-rate decay by ``lr_gamma`` per epoch for the first
    # ``lr_decay_epochs`` epochs, then constant (the GAMDSS / MMNet schedule); 1.0 = none.
    lr_gamma: float = 1.0
    lr_decay_epochs: int = 0
    # Mixed precision (bfloat16 autocast, on CUDA and on the CPU): opt-in, for the large models.
    amp: bool = False

    def as_dict(self) -> dict[str, float | int | bool]:
        budget = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                  "weight_decay": self.weight_decay, "lr_gamma": self.lr_gamma,
                  "lr_decay_epochs": self.lr_decay_epochs}
        # It changes the numbers, so it is hashed; only when on, so that the config hashes of
        # full-precision records stay what they were before the flag existed.
        return {**budget, "amp": True} if self.amp else budget


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
    # CPUs to reserve, and the share of one GPU where the cluster has GPUs: small models default
    # to a quarter, so four pack onto one GPU.
    resources: Mapping[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0.25})

    def with_options(self, *, epochs: int | None = None, batch_size: int | None = None,
                     lr: float | None = None, weight_decay: float | None = None,
                     amp: bool = False) -> "ModelSpec":
        """This model with its training budget changed (``ststnet[epochs=5,lr=0.001]``);
        ``amp=true`` trains in mixed precision (``gamdss-bdrt[amp=true]``).

        The budget is part of a record's config, so a changed budget is a different result.
        """
        from mer_bench.errors import ConfigError

        changes = {"epochs": epochs, "batch_size": batch_size, "lr": lr,
                   "weight_decay": weight_decay, "amp": amp or None}
        changes = {key: value for key, value in changes.items() if value is not None}
        for key in ("epochs", "batch_size"):
            if key in changes and changes[key] < 1:
                raise ConfigError(f"model {self.name}: {key}={changes[key]}; give at least 1")
        for key in ("lr", "weight_decay"):
            if key in changes and changes[key] < 0:
                raise ConfigError(f"model {self.name}: {key}={changes[key]}; give 0 or more")
        return replace(self, budget=replace(self.budget, **changes))


def two_branch(spec: ModelSpec, name: str | None = None) -> ModelSpec:
    """The two-branch (rising + weight-shared falling) variant of any single-branch model."""
    return replace(spec, name=name or f"{spec.name}-2branch", two_branch=True,
                   description=f"{spec.description}; two-branch training (apex->offset "
                               "auxiliary loss, shared weights)")


MODELS: Registry[ModelSpec] = Registry("model", entry_point_group="mer_bench.models")


def count_parameters(module: "nn.Module") -> int:
    return sum(p.numel() for p in module.parameters())


def spec_parameters(spec: ModelSpec, num_classes: int) -> int:
    """Parameter count of ``spec``'s model, built on the meta device (no memory, no init cost)."""
    import torch

    with torch.device("meta"):
        return count_parameters(spec.build(num_classes))


def count_flops(spec: ModelSpec, num_classes: int, channels: Sequence[int]) -> int:
    """FLOPs of one forward pass on one sample (torch's flop counter; a multiply-add is 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    _count_cpu_attention()
    # On the meta device nothing is allocated or computed: reference-size models count instantly.
    with torch.device("meta"):
        model = spec.build(num_classes).eval()
        dummies = [torch.zeros(1, c, spec.input_size, spec.input_size) for c in channels]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*dummies)
    return int(counter.get_total_flops())


def check_input_size(spec: ModelSpec, size: int, channels: Sequence[int] | None = None) -> None:
    """Raise a one-line ConfigError if ``spec``'s model cannot take ``size`` x ``size`` inputs.

    Probes one forward pass of zeros (batch 1, eval mode), so it holds for any model, whatever
    makes it size-bound (a learned position embedding, a flatten into a linear layer).
    ``channels`` defaults to those of the registered input representations the spec reads.
    """
    import torch

    from mer_bench.errors import ConfigError

    if channels is None:
        from mer_bench.inputs.representations import INPUTS

        channels = [INPUTS.get(kind).channels for kind in spec.inputs]
    model = spec.build(2).eval()
    dummies = [torch.zeros(1, c, size, size) for c in channels]
    try:
        with torch.no_grad():
            logits = model(*dummies)
    except Exception as exc:  # any failure of the probe means the size does not fit
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise ConfigError(f"model {spec.name!r} cannot take {size}x{size} inputs "
                          f"({lines[0][:200]}); use {spec.input_size}x{spec.input_size}") from None
    if tuple(logits.shape) != (1, 2):
        raise ConfigError(f"model {spec.name!r} gives logits of shape {tuple(logits.shape)} on "
                          f"{size}x{size} inputs, not (1, classes); use "
                          f"{spec.input_size}x{spec.input_size}")


def _count_cpu_attention() -> None:
    """Teach torch's flop counter the CPU attention kernel, which it misses (torch 2.14).

    Without this, ``scaled_dot_product_attention`` on CPU counts as zero FLOPs, so every
    attention model (ViTs, HTNet, MMNet's position branch) would be undercounted.
    """
    import torch
    from torch.utils.flop_counter import flop_registry, register_flop_formula, sdpa_flop_count

    kernel = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if kernel is None or kernel in flop_registry:
        return

    @register_flop_formula(kernel)
    def _flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)


MODELS.register_family("timm:", "baselines.timm_models:timm_spec")
