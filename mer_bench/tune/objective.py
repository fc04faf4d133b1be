"""The study objective: UF1 on inner validation subjects, pooled over the inner folds.

Scores come one per inner fold (the UF1 pooled over the inner folds done so far), because
`train.train_and_predict` trains a whole budget in one call and has no per-epoch hook. Those
running scores are the intermediate values Optuna records and the results Ray Tune's ASHA stops
on; the last one, over every inner fold, is the objective. Each trial also records how many inner
folds its score covers (``FOLDS_DONE``), so a trial stopped early is never taken for the best.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from mer_bench.metrics import pooled_metrics
from mer_bench.models import MODELS, TrainingBudget
from mer_bench.train import fold_seed, train_and_predict

METRIC = "inner_uf1"
# How many inner folds a trial's score covers: a trial user attribute, and a reported result.
FOLDS_DONE = "inner_folds_done"
OBJECTIVE = "inner-validation UF1 on the training side"


@dataclass(frozen=True)
class InnerData:
    """Everything one outer fold's study may read, one row per training-side sample.

    The fold's test subject is absent: neither its labels nor its inputs are in here. This is
    also what Ray ships to its trial workers.
    """

    fold_index: int
    model: str
    classes: tuple[str, ...]
    x_fit: list[np.ndarray]  # training-side key frames: the inputs a model is fitted on
    x_falling: list[np.ndarray] | None
    x_validate: list[np.ndarray]  # test-side key frames: the inputs a validation subject gives
    labels: np.ndarray
    inner_fold: np.ndarray  # inner fold of each sample
    validation_subjects: tuple[tuple[str, ...], ...]  # per inner fold

    @property
    def n_inner(self) -> int:
        return len(self.validation_subjects)


def training_seed(cell_seed: int, fold_index: int, inner_fold: int) -> int:
    """The seed of one inner training run: the outer fold's seed, extended by the inner fold;
    the same for every trial, so trials differ only in their configuration."""
    return fold_seed(cell_seed, fold_index) * 1000 + inner_fold


def running_inner_uf1(data: InnerData, budget: TrainingBudget, cell_seed: int,
                      device: str = "cpu") -> Iterator[float]:
    """Train one model per inner fold with ``budget``; after each, yield the pooled UF1 so far."""
    spec = MODELS.get(data.model)
    y_true: list[np.ndarray] = []
    y_pred: list[np.ndarray] = []
    for j in range(data.n_inner):
        held_out = data.inner_fold == j
        fit = ~held_out
        outcome = train_and_predict(
            spec, len(data.classes), [x[fit] for x in data.x_fit], data.labels[fit],
            [x[held_out] for x in data.x_validate],
            seed=training_seed(cell_seed, data.fold_index, j),
            x_train_falling=[x[fit] for x in data.x_falling] if data.x_falling else None,
            budget=budget, device=device)
        y_true.append(data.labels[held_out])
        y_pred.append(outcome.predictions.astype(np.int64))
        yield pooled_metrics(np.concatenate(y_true), np.concatenate(y_pred), data.classes).uf1


def inner_uf1(data: InnerData, budget: TrainingBudget, cell_seed: int) -> float:
    """The objective value of ``budget``: UF1 pooled over every inner fold."""
    score = float("nan")
    for score in running_inner_uf1(data, budget, cell_seed):
        pass
    return score
