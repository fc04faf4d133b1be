"""Paired statistics on constructed cases with known answers."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from mer_bench.metrics import pooled_metrics
from mer_bench.report.stats import (
    MDE_FACTOR,
    MIN_SUBJECTS,
    Interval,
    holm,
    majority_correct,
    mcnemar_exact,
    minimum_detectable,
    paired_cluster_bootstrap,
    paired_test,
    subjects_differing,
    verdict,
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
        assert interval == Interval(0.0, 0.0, 0.0, 0.0)


def test_bootstrap_resamples_subjects_not_samples() -> None:
    y, _, base, other = random_case(seeds=1)
    one_subject = ["s0"] * y.size
    # With a single subject every resample is the data itself, so the interval collapses on the
    # estimate; resampling single samples would spread it.
    for interval in paired_cluster_bootstrap(y, base, other, one_subject, len(CLASSES), n_resamples=50).values():
        assert interval.low == pytest.approx(interval.estimate) == pytest.approx(interval.high)
        assert interval.se == pytest.approx(0.0, abs=1e-12)


def test_all_right_against_all_wrong_is_one_for_every_resample() -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    wrong = (y + 1) % 3
    intervals = paired_cluster_bootstrap(y, wrong, y, ["a", "a", "b", "b", "c", "c"], 3, n_resamples=100)
    assert intervals["acc"] == Interval(1.0, 1.0, 1.0, 0.0)
    assert intervals["uar"].estimate == pytest.approx(1.0)


def test_bootstrap_rejects_mismatched_shapes() -> None:
    y, groups, base, other = random_case()
    with pytest.raises(ValueError, match="shape"):
        paired_cluster_bootstrap(y, base[:, :-1], other, groups, len(CLASSES))
    with pytest.raises(ValueError, match="class indices"):
        paired_cluster_bootstrap(y, base, other + 4, groups, len(CLASSES))


# ---------------------------------------------------------------------------------------------
# Standard error, minimum detectable difference, too few subjects


def test_bootstrap_se_is_the_spread_of_the_differences_and_mde_is_2_8_of_it() -> None:
    y, groups, base, other = random_case()
    intervals = paired_cluster_bootstrap(y, base, other, groups, len(CLASSES), n_resamples=400)
    for interval in intervals.values():
        # a 95% percentile interval spans roughly 4 standard errors of a near-normal statistic
        assert 2.5 < (interval.high - interval.low) / interval.se < 5.5
    assert MDE_FACTOR == pytest.approx(1.959964 + 0.841621, abs=1e-6)
    assert minimum_detectable(0.01) == pytest.approx(0.028016, abs=1e-6)
    with pytest.raises(ValueError):
        minimum_detectable(-0.1)


def subject_case(subjects: int, per_subject: int = 8, seed: int = 0, right=(0.6, 0.7)):
    """``subjects`` subjects drawn from one population: the two sides are right with probabilities
    ``right`` on every sample, independently."""
    rng = np.random.default_rng(seed)
    n = subjects * per_subject
    y = rng.integers(0, 3, n)
    wrong = (y + rng.integers(1, 3, n)) % 3
    base = np.where(rng.random(n) < right[0], y, wrong)
    other = np.where(rng.random(n) < right[1], y, wrong)
    groups = np.repeat([f"s{i:03d}" for i in range(subjects)], per_subject)
    return y, base, other, groups


def mde(subjects: int, seed: int) -> float:
    y, base, other, groups = subject_case(subjects, seed=seed)
    return paired_test(y, base, other, groups, 3, n_resamples=400).mde_uf1


def test_mde_shrinks_as_subjects_grow() -> None:
    counts = (5, 10, 20, 40, 80)
    # averaged over a few draws of the data, so one unlucky draw cannot reorder neighbours
    mdes = [float(np.mean([mde(n, seed) for seed in range(4)])) for n in counts]
    assert all(a > b for a, b in zip(mdes, mdes[1:])), mdes
    assert mdes[0] / mdes[-1] == pytest.approx(4.0, rel=0.35), "about 1 / sqrt(subjects)"


def test_fewer_than_five_subjects_give_no_interval_mde_or_verdict() -> None:
    y, base, other, groups = subject_case(MIN_SUBJECTS - 1)
    test = paired_test(y, base, other, groups, 3)
    assert test.too_few_subjects and test.n_subjects == 4
    assert test.intervals is None and test.mde_uf1 is None
    assert verdict(test, 0.0) == "too few subjects", "not even a tiny p-value gives a verdict"
    assert test.mcnemar.n01 + test.mcnemar.n10 > 0, "the counts are still reported"
    enough = paired_test(*subject_case(MIN_SUBJECTS)[:3], subject_case(MIN_SUBJECTS)[3], 3)
    assert not enough.too_few_subjects and enough.intervals is not None and enough.mde_uf1 > 0


def test_identical_sides_have_no_mde() -> None:
    y, base, _, groups = subject_case(12)
    test = paired_test(y, base, base.copy(), groups, 3)
    assert test.subjects_differing == 0 and test.mde_uf1 is None
    assert verdict(test, 1.0) == "no evidence"


def test_an_interval_ends_at_exactly_zero_when_resamples_miss_the_only_differing_subject() -> None:
    # Why so many published intervals ended at 0.0000: with one subject of n carrying every
    # disagreement, ((n - 1) / n) ** n of the resamples (35% for n = 14) contain no disagreement.
    y, base, _, groups = subject_case(14)
    other = base.copy()
    first_subject = groups == "s000"
    other[first_subject] = y[first_subject]  # the other side fixes that subject's errors
    test = paired_test(y, base, other, groups, 3, n_resamples=2000)
    assert test.subjects_differing == 1
    uf1 = test.intervals["uf1"]
    assert uf1.estimate > 0 and uf1.low == 0.0 and uf1.high > 0


def test_subjects_differing_counts_subjects_not_samples() -> None:
    subjects = ["a", "a", "b", "b", "c"]
    base = np.array([[0, 1, 2, 0, 1], [0, 1, 2, 0, 1]])
    other = np.array([[1, 2, 2, 0, 1], [0, 1, 2, 0, 2]])
    assert subjects_differing(subjects, base, other) == 2, "two samples of a, one of c"
    assert subjects_differing(subjects, base, base) == 0


def test_verdict_needs_both_the_adjusted_p_and_the_interval() -> None:
    y, base, other, groups = subject_case(40, seed=1, right=(0.4, 0.9))
    test = paired_test(y, base, other, groups, 3, n_resamples=400)
    assert test.intervals["uf1"].low > 0
    assert verdict(test, 0.01) == "better"
    assert verdict(test, 0.2) == "no evidence"
    reverse = paired_test(y, other, base, groups, 3, n_resamples=400)
    assert verdict(reverse, 0.01) == "worse"
