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


def batch_scores(y: np.ndarray, guesses: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """UF1, UAR and accuracy of many guesses at once (one per row), with the metrics' rule that
    every class counts: a class with no true sample has recall 0, one with no true and no
    predicted sample F1 0. Checked against ``pooled_metrics`` below."""
    true = y[None, :] == np.arange(k)[:, None, None]  # (k, 1, n)
    guessed = guesses[None, :, :] == np.arange(k)[:, None, None]  # (k, draws, n)
    tp = (true & guessed).sum(-1)
    fp = (~true & guessed).sum(-1)
    fn = (true & ~guessed).sum(-1)
    denominator = 2 * tp + fp + fn
    f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    support = true.sum(-1)
    recall = tp / np.maximum(support, 1)
    return f1.mean(0), recall.mean(0), (guesses == y).mean(1)


def test_the_batch_scores_agree_with_the_metrics_module() -> None:
    rng = np.random.default_rng(1)
    for counts in [(3, 2, 1), (4, 0, 2), (40, 17, 12)]:
        y = labels(counts)
        guesses = rng.integers(0, len(counts), (30, y.size))
        uf1, uar, accuracy = batch_scores(y, guesses, len(counts))
        names = [f"c{i}" for i in range(len(counts))]
        for row, guess in enumerate(guesses):
            m = pooled_metrics(y, guess, names)
            assert (uf1[row], uar[row], accuracy[row]) == pytest.approx((m.uf1, m.uar, m.accuracy),
                                                                       abs=1e-12)


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
    every_guess = np.array(list(itertools.product(range(k), repeat=y.size)))
    uf1, uar, accuracy = batch_scores(y, every_guess, k)
    expected = uniform_guess_scores(counts)
    assert expected.uf1 == pytest.approx(uf1.mean(), abs=1e-12)
    assert expected.uar == pytest.approx(uar.mean(), abs=1e-12)
    assert expected.accuracy == pytest.approx(accuracy.mean(), abs=1e-12)


def test_uniform_uf1_matches_a_monte_carlo_estimate() -> None:
    counts = (40, 17, 12)  # the MEGC2019 composite twin's test set at scale 0.15
    y = labels(counts)
    rng = np.random.default_rng(0)
    draws = batch_scores(y, rng.integers(0, 3, (20000, y.size)), 3)[0]
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
