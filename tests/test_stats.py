"""Paired statistics on constructed cases with known answers."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from mer_bench.metrics import pooled_metrics
from mer_bench.report.stats import (
    Interval,
    holm,
    majority_correct,
    mcnemar_exact,
    paired_cluster_bootstrap,
)

CLASSES = ["negative", "positive", "surprise", "others"]


def discordant(n01: int, n10: int, concordant: int = 5) -> tuple[list[bool], list[bool]]:
    a = [True] * n01 + [False] * n10 + [True] * concordant
    b = [False] * n01 + [True] * n10 + [True] * concordant
    return a, b


def test_mcnemar_matches_the_two_sided_binomial_closed_form() -> None:
    n01, n10, p = mcnemar_exact(*discordant(2, 10))
    assert (n01, n10) == (2, 10)
    expected = 2 * sum(comb(12, k) for k in range(3)) / 2**12
    assert p == pytest.approx(expected, abs=1e-15)
    assert p == pytest.approx(0.0385742, abs=1e-7)
    assert mcnemar_exact(*discordant(10, 2)).p == pytest.approx(expected), "symmetric in the two sides"


def test_mcnemar_without_discordant_pairs_is_one() -> None:
    assert mcnemar_exact([True, False, True], [True, False, True]) == (0, 0, 1.0)
    assert mcnemar_exact(*discordant(3, 3)).p == pytest.approx(1.0)


def test_majority_correct_needs_more_than_half_of_the_seeds() -> None:
    y_true = [0, 0, 0, 1]
    three_seeds = np.array([[0, 0, 1, 0], [0, 1, 1, 0], [1, 1, 1, 0]])
    assert majority_correct(y_true, three_seeds).tolist() == [True, False, False, False]
    two_seeds = np.array([[0, 0, 1, 1], [0, 1, 1, 0]])
    assert majority_correct(y_true, two_seeds).tolist() == [True, False, False, False], "a tie is wrong"
    assert majority_correct(y_true, np.array([0, 1, 0, 1])).tolist() == [True, False, True, True]


def test_holm_on_a_known_vector() -> None:
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    # Sorted: 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> 0.02, 0.03, 0.06, max(0.04, 0.06) (monotone).
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6, 0.01]), [1.0, 1.0, 0.03]), "capped at 1"
    np.testing.assert_allclose(holm([0.2]), [0.2])
    assert holm([]).size == 0


def random_case(seed: int = 1, n: int = 120, subjects: int = 12, seeds: int = 3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)  # class 3 ("others") never occurs: it must still count, as 0
    groups = np.repeat([f"s{i:02d}" for i in range(subjects)], n // subjects)
    base = np.where(rng.random((seeds, n)) < 0.2, y, rng.integers(0, 4, (seeds, n)))
    other = np.where(rng.random((seeds, n)) < 0.8, y, rng.integers(0, 4, (seeds, n)))
    return y, groups, base, other


def seed_mean(y, runs, attribute: str) -> float:
    return float(np.mean([getattr(pooled_metrics(y, run, CLASSES), attribute) for run in runs]))


def test_bootstrap_estimate_is_the_difference_of_pooled_seed_means() -> None:
    y, groups, base, other = random_case()
    intervals = paired_cluster_bootstrap(y, base, other, groups, len(CLASSES), n_resamples=200)
    for name, attribute in (("acc", "accuracy"), ("uf1", "uf1"), ("uar", "uar")):
        expected = seed_mean(y, other, attribute) - seed_mean(y, base, attribute)
        assert intervals[name].estimate == pytest.approx(expected, abs=1e-12)
        assert intervals[name].low <= intervals[name].estimate <= intervals[name].high
        assert intervals[name].low > 0, "other is clearly better here"


def test_bootstrap_is_deterministic_for_a_fixed_seed() -> None:
    y, groups, base, other = random_case()
    first = paired_cluster_bootstrap(y, base, other, groups, len(CLASSES), seed=3)
    assert first == paired_cluster_bootstrap(y, base, other, groups, len(CLASSES), seed=3)
    assert first != paired_cluster_bootstrap(y, base, other, groups, len(CLASSES), seed=4)


def test_identical_predictions_give_zero_and_a_zero_interval() -> None:
    y, groups, base, _ = random_case()
    for interval in paired_cluster_bootstrap(y, base, base.copy(), groups, len(CLASSES)).values():
        assert interval == Interval(0.0, 0.0, 0.0)


def test_bootstrap_resamples_subjects_not_samples() -> None:
    y, _, base, other = random_case(seeds=1)
    one_subject = ["s0"] * y.size
    # With a single subject every resample is the data itself, so the interval collapses on the
    # estimate; resampling single samples would spread it.
    for interval in paired_cluster_bootstrap(y, base, other, one_subject, len(CLASSES), n_resamples=50).values():
        assert interval.low == pytest.approx(interval.estimate) == pytest.approx(interval.high)


def test_all_right_against_all_wrong_is_one_for_every_resample() -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    wrong = (y + 1) % 3
    intervals = paired_cluster_bootstrap(y, wrong, y, ["a", "a", "b", "b", "c", "c"], 3, n_resamples=100)
    assert intervals["acc"] == Interval(1.0, 1.0, 1.0)
    assert intervals["uar"].estimate == pytest.approx(1.0)


def test_bootstrap_rejects_mismatched_shapes() -> None:
    y, groups, base, other = random_case()
    with pytest.raises(ValueError, match="shape"):
        paired_cluster_bootstrap(y, base[:, :-1], other, groups, len(CLASSES))
    with pytest.raises(ValueError, match="class indices"):
        paired_cluster_bootstrap(y, base, other + 4, groups, len(CLASSES))
