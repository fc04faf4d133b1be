"""Selection modes: the oracle keeps the best test epoch (and only it sees test labels); cells and
record paths keep the modes apart; tuned folds of different lengths still give one loss curve."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mer_bench.execute.job import _mean_curve
from mer_bench.models import MODELS
from mer_bench.store import Cell
from mer_bench.train import train_and_predict


def noisy_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], 12)
    x = rng.normal(size=(36, 3, 28, 28)).astype(np.float32)
    x[:, 0] += y[:, None, None] * 0.4  # weakly separable: the epochs disagree on the test side
    return x[::2], y[::2], x[1::2], y[1::2]


def test_oracle_keeps_the_epoch_with_the_most_correct_test_predictions():
    x_train, y_train, x_test, y_test = noisy_problem()
    spec = MODELS.get("ststnet")
    budget = replace(spec.budget, epochs=12)
    fixed = train_and_predict(spec, 3, [x_train], y_train, [x_test], seed=1, budget=budget)
    oracle = train_and_predict(spec, 3, [x_train], y_train, [x_test], seed=1, budget=budget,
                               oracle_labels=y_test)

    assert fixed.chosen_epoch == 12
    assert 1 <= oracle.chosen_epoch <= 12
    # the last epoch is among the oracle's candidates, so it can only do as well or better
    assert (oracle.predictions == y_test).sum() >= (fixed.predictions == y_test).sum()
    assert fixed.epoch_losses == oracle.epoch_losses  # same training; only the pick differs
    if oracle.chosen_epoch == 12:
        np.testing.assert_array_equal(oracle.predictions, fixed.predictions)


def test_selection_modes_live_in_separate_cells_and_folders():
    twin = "twin-scale0.15-seed0"
    honest = Cell("casme2-5class", "ststnet", "annotated", 0, data=twin)
    oracle = Cell("casme2-5class", "ststnet", "annotated", 0, "oracle", data=twin)
    tuned = Cell("casme2-5class", "ststnet", "annotated", 0, "optuna-nested", data=twin)

    assert honest.relpath.name == "seed0"
    assert oracle.relpath.name == "seed0-oracle" and tuned.relpath.name == "seed0-optuna-nested"
    assert Cell.from_dict(oracle.to_dict()) == oracle
    assert Cell.from_dict({k: v for k, v in honest.to_dict().items() if k != "selection"}) == honest
    with pytest.raises(ValueError, match="selection"):
        Cell("casme2-5class", "ststnet", "annotated", 0, "best-epoch", data="twin-scale1-seed0")


def test_loss_curve_of_folds_tuned_to_different_lengths():
    assert _mean_curve([[4.0, 2.0, 1.0], [2.0, 1.0]]) == [3.0, 1.5, 1.0]
