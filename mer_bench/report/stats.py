"""Paired significance statistics for comparing two sets of predictions on the same samples.

* ``paired_cluster_bootstrap``: the difference (other - baseline) of accuracy, UF1 and UAR with a
  percentile interval and a standard error, resampling SUBJECTS with replacement. LOSO test samples
  are clustered by subject (one model per fold, correlated clips per person), so resampling single
  samples would understate the spread.
* ``mcnemar_exact``: exact two-sided McNemar test on per-sample correctness.
* ``majority_correct``: per-sample correctness of a side that ran several seeds.
* ``holm``: Holm-Bonferroni adjustment across the rows of a table.
* ``paired_test``: all of the above for one pair of prediction sets, with the rule that fewer than
  ``MIN_SUBJECTS`` test subjects give no interval and no verdict, and the minimum detectable
  difference (``minimum_detectable``); ``verdict`` turns it into better / worse / no evidence.

UF1 and UAR are computed the MEGC2019 way, as ``mer_bench.metrics.pooled_metrics`` does: every one
of ``n_classes`` classes counts, a class with no support or no predictions scores 0.

Why a subject bootstrap needs enough subjects: a resample draws subjects, so its difference is made
only of the subjects where the two sides disagree. With n subjects of which k carry a disagreement,
a resample misses all k with probability ((n - k) / n) ** n (n = 4, k = 1: 32%), and then scores a
difference of exactly 0. When that exceeds the 2.5% tail, the interval ends at exactly 0 whatever
the data say; and with 2 to 4 subjects there are only 3 to 35 distinct resamples. Such intervals
(and the standard error behind the MDE) describe the few subjects at hand, not the population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
from scipy.stats import binomtest, norm

ALPHA = 0.05  # two-sided significance level of every test and interval here
POWER = 0.80  # the power at which the minimum detectable difference is stated
MIN_SUBJECTS = 5  # fewer test subjects give no interval and no verdict (see the module docstring)
# The smallest true difference a two-sided z-test at ALPHA detects with probability POWER is
# (z_{1 - ALPHA/2} + z_{POWER}) standard errors: 1.960 + 0.842 = 2.802.
MDE_FACTOR = float(norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER))
TOO_FEW_SUBJECTS = "too few subjects"
N_RESAMPLES = 2000  # subject-bootstrap resamples of the published tables
BOOTSTRAP_SEED = 0


class McNemar(NamedTuple):
    """``n01``: samples baseline got right and other got wrong; ``n10``: the reverse; ``p``: exact two-sided."""

    n01: int
    n10: int
    p: float


@dataclass(frozen=True)
class Interval:
    """A paired difference (other - baseline), its bootstrap percentile interval and its bootstrap
    standard error (the sample standard deviation of the resampled differences)."""

    estimate: float
    low: float
    high: float
    se: float


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> McNemar:
    """Exact McNemar test: only discordant pairs matter; under H0 each is equally likely either way.

    ``p`` is the two-sided binomial test of ``n10`` successes in ``n01 + n10`` trials at 0.5, and
    1.0 when there is no discordant pair.
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"correct_a and correct_b must be flat and of equal length, got {a.shape} and {b.shape}")
    n01 = int(np.count_nonzero(a & ~b))
    n10 = int(np.count_nonzero(~a & b))
    p = 1.0 if n01 + n10 == 0 else float(binomtest(n10, n01 + n10, 0.5).pvalue)
    return McNemar(n01, n10, p)


def majority_correct(y_true: Sequence[int], predictions: np.ndarray) -> np.ndarray:
    """Per sample: correct in MORE than half of the seeds (rows of ``predictions``, shape (seeds, n)).

    With an even number of seeds a tie (right in exactly half) counts as wrong; with one seed this is
    plain correctness. This turns several seeds into the one correctness vector McNemar needs.
    """
    preds = np.atleast_2d(np.asarray(predictions))
    hits = (preds == np.asarray(y_true)[None, :]).sum(axis=0)
    return 2 * hits > preds.shape[0]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values, in the input order; monotone and capped at 1."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be a flat sequence, got shape {p.shape}")
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _confusion_counts(y_true: np.ndarray, predictions: np.ndarray, groups: np.ndarray,
                      n_groups: int, n_classes: int) -> np.ndarray:
    """Counts of shape (runs, groups, true class, predicted class), from one bincount."""
    runs = predictions.shape[0]
    flat = ((np.arange(runs)[:, None] * n_groups + groups[None, :]) * n_classes + y_true[None, :]) * n_classes
    flat = flat + predictions
    counts = np.bincount(flat.ravel(), minlength=runs * n_groups * n_classes * n_classes)
    return counts.reshape(runs, n_groups, n_classes, n_classes)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # zero_division=0, as in pooled_metrics.
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0)


def scores_from_confusion(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """acc, UF1, UAR of confusion matrices stacked on the leading axes (..., K, K); rows are true classes."""
    confusion = np.asarray(confusion, dtype=float)
    hits = np.diagonal(confusion, axis1=-2, axis2=-1)
    support = confusion.sum(axis=-1)
    predicted = confusion.sum(axis=-2)
    # F1 = 2 tp / (2 tp + fp + fn) = 2 tp / (support + predicted); 0 when the class is absent from both.
    f1 = _safe_ratio(2 * hits, support + predicted)
    recall = _safe_ratio(hits, support)
    return {
        "acc": _safe_ratio(hits.sum(axis=-1), support.sum(axis=-1)),
        "uf1": f1.mean(axis=-1),
        "uar": recall.mean(axis=-1),
    }


def _as_runs(predictions: np.ndarray, n: int, name: str) -> np.ndarray:
    runs = np.atleast_2d(np.asarray(predictions))
    if runs.ndim != 2 or runs.shape[1] != n or runs.shape[0] == 0:
        raise ValueError(f"{name} must have shape (seeds, {n}), got {np.shape(predictions)}")
    return runs.astype(np.int64)


def paired_cluster_bootstrap(
    y_true: Sequence[int],
    baseline: np.ndarray,
    other: np.ndarray,
    subjects: Sequence[object],
    n_classes: int,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = 1 - ALPHA,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Interval]:
    """Difference (other - baseline) of acc / UF1 / UAR with a subject-level percentile interval.

    ``baseline`` and ``other`` hold class-index predictions of shape (seeds, n) (or (n,) for one
    seed) for the same ``n`` samples as ``y_true``; ``subjects`` names each sample's subject. Each
    resample draws as many subjects as there are, with replacement, and scores every seed of both
    sides on that same draw; the statistic is the difference of the two sides' seed means. Returns
    ``{"acc", "uf1", "uar"}`` -> ``Interval``. Deterministic for a given ``seed``.
    """
    y = np.asarray(y_true, dtype=np.int64)
    base_runs = _as_runs(baseline, y.size, "baseline")
    other_runs = _as_runs(other, y.size, "other")
    if n_resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"need n_resamples >= 1 and 0 < confidence < 1, got {n_resamples} and {confidence}")
    if len(subjects) != y.size or y.size == 0:
        raise ValueError(f"need one subject per sample and at least one sample, got {len(subjects)} for {y.size}")
    for array in (y, base_runs, other_runs):
        if array.size and (array.min() < 0 or array.max() >= n_classes):
            raise ValueError(f"class indices must lie in 0..{n_classes - 1}")
    _, groups = np.unique(np.asarray(subjects, dtype=object).astype(str), return_inverse=True)
    n_groups = int(groups.max()) + 1

    runs = np.concatenate([base_runs, other_runs])
    counts = _confusion_counts(y, runs, groups, n_groups, n_classes)  # (runs, subjects, K, K)

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, size=(n_resamples, n_groups))
    # How often each subject was drawn per resample; a resample's confusion is the weighted sum of
    # per-subject confusions, so no resample re-scores samples one by one.
    offsets = np.arange(n_resamples)[:, None] * n_groups
    weights = np.bincount((offsets + draws).ravel(), minlength=n_resamples * n_groups)
    weights = np.vstack([np.ones(n_groups, dtype=np.int64),  # row 0: the data as they are
                         weights.reshape(n_resamples, n_groups)])
    resampled = np.einsum("bs,rsij->brij", weights, counts)

    n_base = base_runs.shape[0]
    tail = 100 * (1 - confidence) / 2
    out = {}
    for name, scores in scores_from_confusion(resampled).items():  # scores: (1 + resamples, runs)
        diffs = scores[:, n_base:].mean(axis=1) - scores[:, :n_base].mean(axis=1)
        low, high = np.percentile(diffs[1:], [tail, 100 - tail])
        se = float(np.std(diffs[1:], ddof=1)) if n_resamples > 1 else 0.0
        out[name] = Interval(float(diffs[0]) + 0.0, float(low) + 0.0, float(high) + 0.0, se + 0.0)
    return out


def minimum_detectable(se: float) -> float:
    """The smallest true difference detected with probability ``POWER`` by a two-sided test at
    ``ALPHA`` whose estimate has standard error ``se``: ``MDE_FACTOR * se``."""
    if not se >= 0:
        raise ValueError(f"a standard error is non-negative, got {se}")
    return MDE_FACTOR * se


def subjects_differing(subjects: Sequence[object], baseline: np.ndarray, other: np.ndarray) -> int:
    """How many subjects hold a sample on which the two sides predict differently.

    Sides with equally many seeds (rows) are compared seed by seed; otherwise a sample differs when
    any prediction of one side differs from any of the other.
    """
    base = np.atleast_2d(np.asarray(baseline))
    oth = np.atleast_2d(np.asarray(other))
    if base.shape == oth.shape:
        differs = (base != oth).any(axis=0)
    else:
        differs = (base[:, None, :] != oth[None, :, :]).any(axis=(0, 1))
    return len(set(np.asarray(subjects, dtype=object).astype(str)[differs]))


@dataclass(frozen=True)
class PairedTest:
    """One paired comparison of two prediction sets on the same samples.

    ``intervals`` (acc / uf1 / uar) and ``mde_uf1`` are None with fewer than ``MIN_SUBJECTS``
    subjects; ``mde_uf1`` is also None when the sides never disagree (no spread to measure).
    """

    n_samples: int
    n_subjects: int
    subjects_differing: int
    mcnemar: McNemar
    intervals: dict[str, Interval] | None
    mde_uf1: float | None

    @property
    def too_few_subjects(self) -> bool:
        return self.n_subjects < MIN_SUBJECTS


def paired_test(
    y_true: Sequence[int],
    baseline: np.ndarray,
    other: np.ndarray,
    subjects: Sequence[object],
    n_classes: int,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = 1 - ALPHA,
    seed: int = BOOTSTRAP_SEED,
) -> PairedTest:
    """Compare ``other`` with ``baseline`` (predictions of shape (seeds, n) or (n,)): McNemar on
    majority-over-seeds correctness, and with at least ``MIN_SUBJECTS`` subjects the subject
    bootstrap's intervals and the minimum detectable ΔUF1 (``MDE_FACTOR`` x its standard error)."""
    y = np.asarray(y_true, dtype=np.int64)
    base_runs = _as_runs(baseline, y.size, "baseline")
    other_runs = _as_runs(other, y.size, "other")
    n_subjects = len(set(np.asarray(subjects, dtype=object).astype(str)))
    differing = subjects_differing(subjects, base_runs, other_runs)
    test = mcnemar_exact(majority_correct(y, base_runs), majority_correct(y, other_runs))
    if n_subjects < MIN_SUBJECTS:
        return PairedTest(y.size, n_subjects, differing, test, None, None)
    intervals = paired_cluster_bootstrap(y, base_runs, other_runs, subjects, n_classes,
                                         n_resamples=n_resamples, confidence=confidence, seed=seed)
    mde = minimum_detectable(intervals["uf1"].se) if differing else None
    return PairedTest(y.size, n_subjects, differing, test, intervals, mde)


def verdict(test: PairedTest, p_adjusted: float) -> str:
    """'better' / 'worse' (other relative to baseline) when the adjusted McNemar p is below ``ALPHA``
    and the whole ΔUF1 interval lies on one side of 0; 'too few subjects' below ``MIN_SUBJECTS``;
    'no evidence' otherwise (which does not show the sides are equal)."""
    if test.intervals is None:
        return TOO_FEW_SUBJECTS
    uf1 = test.intervals["uf1"]
    if p_adjusted < ALPHA and uf1.low > 0:
        return "better"
    if p_adjusted < ALPHA and uf1.high < 0:
        return "worse"
    return "no evidence"
