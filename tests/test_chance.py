"""Chance references: the majority class exactly, and the exact expectation of uniform guessing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mer_bench.metrics import pooled_metrics
from mer_bench.report.chance import (
    class_counts,
    expected_f1_uniform,
    majority_class,
    majority_class_scores,
    uniform_guess_scores,
)


def labels(counts) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts)


def test_uniform_uf1_of_two_samples_two_classes_is_five_twelfths() -> None:
    # By hand: the four equally likely guesses (0,0), (1,1), (0,1), (1,0) score UF1 1/3, 1/3, 1, 0.
    # Per class: TP, FP ~ Bin(1, 1/2); F1 = 1 for (TP, FP) = (1, 0), 2/3 for (1, 1), else 0;
    # E[F1] = 1/4 + 1/4 * 2/3 = 5/12.
    assert expected_f1_uniform(1, 2, 2) == pytest.approx(5 / 12, abs=1e-15)
    scores = uniform_guess_scores([1, 1])
    assert scores.uf1 == pytest.approx(5 / 12, abs=1e-15)
    assert scores.uar == pytest.approx(0.5) and scores.accuracy == pytest.approx(0.5)


@pytest.mark.parametrize("counts", [(3, 2, 1), (4, 0, 2), (1, 1, 1, 2)])
def test_uniform_scores_equal_the_mean_over_every_possible_guess(counts) -> None:
    y = labels(counts)
    k = len(counts)
    names = [f"c{i}" for i in range(k)]
    scored = [pooled_metrics(y, np.array(guess), names) for guess in itertools.product(range(k), repeat=y.size)]
    expected = uniform_guess_scores(counts)
    assert expected.uf1 == pytest.approx(np.mean([m.uf1 for m in scored]), abs=1e-12)
    assert expected.uar == pytest.approx(np.mean([m.uar for m in scored]), abs=1e-12)
    assert expected.accuracy == pytest.approx(np.mean([m.accuracy for m in scored]), abs=1e-12)


def test_uniform_uf1_matches_a_monte_carlo_estimate() -> None:
    counts = (40, 17, 12)  # the MEGC2019 composite twin's test set at scale 0.15
    y = labels(counts)
    rng = np.random.default_rng(0)
    draws = [pooled_metrics(y, rng.integers(0, 3, y.size), ["n", "p", "s"]).uf1 for _ in range(4000)]
    expected = uniform_guess_scores(counts).uf1
    standard_error = np.std(draws, ddof=1) / np.sqrt(len(draws))
    assert abs(np.mean(draws) - expected) < 4 * standard_error
    assert expected == pytest.approx(0.3096, abs=1e-4)
    # F1 is not linear: the UF1 of the "expected" confusion matrix would be 1/3 here, not E[UF1]
    assert abs(expected - 1 / 3) > 0.02


def test_a_class_without_test_samples_scores_zero_in_expectation() -> None:
    assert expected_f1_uniform(0, 10, 3) == 0.0
    scores = uniform_guess_scores([5, 0, 5])
    assert scores.uar == pytest.approx(2 / 9), "recall 1/3 for two classes, 0 for the absent one"


def test_majority_class_scores_are_those_of_predicting_it_everywhere() -> None:
    counts = [17, 4, 2]  # samm-3class at twin scale 0.15
    assert majority_class(counts) == 0
    scores = majority_class_scores(counts)
    assert scores.accuracy == pytest.approx(17 / 23)
    assert scores.uf1 == pytest.approx((2 * 17 / (17 + 23)) / 3)  # F1 of the majority class, 0 for others
    assert scores.uf1 == pytest.approx(0.2833, abs=1e-4)
    assert scores.uar == pytest.approx(1 / 3)
    assert majority_class([2, 5, 5]) == 1, "the first of tied classes (they score the same)"


def test_class_counts_and_bad_input() -> None:
    assert class_counts([0, 2, 2], 4).tolist() == [1, 0, 2, 0]
    with pytest.raises(ValueError):
        class_counts([0, 4], 4)
    with pytest.raises(ValueError):
        uniform_guess_scores([0, 0])
    with pytest.raises(ValueError):
        majority_class_scores([])
