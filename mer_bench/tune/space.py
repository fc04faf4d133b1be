"""The search space: which parts of a model's training budget Optuna may change, and how far.

Derived per model from its own budget, so every model is searched around what it was designed
with:

=============  ==============================================================================
lr             log-uniform, from the model's lr / 10 to lr x 10
weight_decay   switched off (exactly 0) or log-uniform in [1e-5, 1e-1]
epochs         an integer from half the cap to the cap; the cap is ``--max-epochs``, by default
               the model's own epoch budget
batch_size     one of half, once and twice the model's batch size (at least 2)
=============  ==============================================================================

The learning-rate schedule (``lr_gamma``, ``lr_decay_epochs``) stays the model's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping

from mer_bench.models import ModelSpec, TrainingBudget

WEIGHT_DECAY_RANGE = (1e-5, 1e-1)
LR_FACTOR = 10.0


@dataclass(frozen=True)
class SearchSpace:
    """What a study may change in ``base``; the rest of ``base`` is kept as it is."""

    base: TrainingBudget
    lr: tuple[float, float]  # log-uniform
    weight_decay: tuple[float, float]  # log-uniform when switched on, else exactly 0
    epochs: tuple[int, int]  # inclusive integer range
    batch_sizes: tuple[int, ...]  # categorical

    def suggest(self, trial: Any) -> None:
        """Define-by-run: draw one configuration into ``trial.params``.

        Plain Optuna calls it with an ``optuna.Trial``; Ray's ``OptunaSearch`` calls it with a
        wrapper that captures the values. It only draws, never computes (Ray warns otherwise).
        """
        trial.suggest_float("lr", *self.lr, log=True)
        # A conditional parameter: log-uniform cannot reach 0, and no decay is a real option.
        if trial.suggest_categorical("weight_decay_on", [True, False]):
            trial.suggest_float("weight_decay", *self.weight_decay, log=True)
        trial.suggest_int("epochs", *self.epochs)
        trial.suggest_categorical("batch_size", list(self.batch_sizes))

    def budget(self, params: Mapping[str, Any]) -> TrainingBudget:
        """The training budget of one drawn configuration (Optuna's params or Tune's config)."""
        return replace(
            self.base,
            lr=float(params["lr"]),
            weight_decay=float(params["weight_decay"]) if params["weight_decay_on"] else 0.0,
            epochs=int(params["epochs"]),
            batch_size=int(params["batch_size"]),
        )

    def describe(self) -> dict[str, Any]:
        """The space as plain JSON, for records and for checking a resumed study."""
        return {
            "lr": {"distribution": "log-uniform", "low": self.lr[0], "high": self.lr[1]},
            "weight_decay": {"distribution": "0 or log-uniform", "low": self.weight_decay[0],
                             "high": self.weight_decay[1]},
            "epochs": {"distribution": "int-uniform", "low": self.epochs[0],
                       "high": self.epochs[1]},
            "batch_size": {"distribution": "categorical", "choices": list(self.batch_sizes)},
            "fixed": {"lr_gamma": self.base.lr_gamma, "lr_decay_epochs": self.base.lr_decay_epochs},
        }


def space_for(model: ModelSpec, max_epochs: int | None = None) -> SearchSpace:
    """The search space of ``model``: around its own budget, epochs capped at ``max_epochs``."""
    base = model.budget
    cap = max_epochs if max_epochs is not None else base.epochs
    if cap < 1:
        raise ValueError(f"max_epochs must be at least 1, got {cap}")
    batch = base.batch_size
    return SearchSpace(
        base=base,
        lr=(base.lr / LR_FACTOR, base.lr * LR_FACTOR),
        weight_decay=WEIGHT_DECAY_RANGE,
        epochs=(max(1, math.ceil(cap / 2)), cap),
        batch_sizes=tuple(sorted({max(2, batch // 2), batch, batch * 2})),
    )
