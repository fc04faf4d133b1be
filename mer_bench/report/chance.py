"""Chance references for a test set, computed from its class counts alone.

Two predictors that learn nothing, scored by the MEGC2019 rules of ``mer_bench.metrics`` (every
protocol class counts; a class with no samples and no predictions scores 0):

* **majority class**: predicts the most frequent test class for every sample. Its scores are exact.
* **uniform guessing**: predicts each of the K classes with probability 1/K, independently per
  sample. Its scores are random; the reference is their *expected* value, computed exactly:

  - E[acc] = 1/K;
  - E[UAR] = mean over classes of E[recall_c] = 1/K for a class with samples, 0 for one without;
  - E[UF1] = mean over classes of E[F1_c]. With N samples of which n_c are class c,
    TP_c ~ Bin(n_c, 1/K) and FP_c ~ Bin(N - n_c, 1/K) are independent (they count guesses of c on
    disjoint samples), and F1_c = 2 TP_c / (n_c + TP_c + FP_c), so E[F1_c] is a finite double sum
    over (TP_c, FP_c). E[UF1] is not the UF1 of the "expected" confusion matrix: F1 is not linear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import binom

from mer_bench.metrics import pooled_metrics


@dataclass(frozen=True)
class ChanceScores:
    """Accuracy, UF1 and UAR of a reference predictor, as fractions."""

    accuracy: float
    uf1: float
    uar: float


def class_counts(y_true: Sequence[int], n_classes: int) -> np.ndarray:
    """Samples per class index ``0 .. n_classes - 1``."""
    labels = np.asarray(y_true, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"class indices must lie in 0..{n_classes - 1}")
    return np.bincount(labels, minlength=n_classes)


def _checked(counts: Sequence[int]) -> np.ndarray:
    array = np.asarray(counts, dtype=np.int64)
    if array.ndim != 1 or array.size == 0 or (array < 0).any() or array.sum() == 0:
        raise ValueError(f"need non-negative counts for at least one class and one sample, got {counts}")
    return array


def majority_class(counts: Sequence[int]) -> int:
    """Index of the most frequent class (the first one on a tie: ties score the same)."""
    return int(np.argmax(_checked(counts)))


def majority_class_scores(counts: Sequence[int]) -> ChanceScores:
    """Scores of predicting the most frequent class for every sample (exact)."""
    array = _checked(counts)
    y_true = np.repeat(np.arange(array.size), array)
    metrics = pooled_metrics(y_true, np.full(y_true.size, majority_class(array)),
                             [str(i) for i in range(array.size)])
    return ChanceScores(metrics.accuracy, metrics.uf1, metrics.uar)


def expected_f1_uniform(n_class: int, n_total: int, n_classes: int) -> float:
    """E[F1] of one class with ``n_class`` of ``n_total`` samples under uniform guessing over
    ``n_classes`` classes: the double sum over TP ~ Bin(n_class, 1/K), FP ~ Bin(N - n_class, 1/K)."""
    if not 0 <= n_class <= n_total or n_classes < 1:
        raise ValueError(f"need 0 <= n_class <= n_total and n_classes >= 1, got {n_class}, {n_total}, {n_classes}")
    if n_class == 0:
        return 0.0  # no true positive is possible, so F1 is 0 whatever is predicted
    p = 1.0 / n_classes
    tp = np.arange(n_class + 1)
    fp = np.arange(n_total - n_class + 1)
    f1 = 2.0 * tp[:, None] / (n_class + tp[:, None] + fp[None, :])
    return float(binom.pmf(tp, n_class, p) @ f1 @ binom.pmf(fp, n_total - n_class, p))


def uniform_guess_scores(counts: Sequence[int]) -> ChanceScores:
    """Expected scores of guessing each class with probability 1/K for every sample (exact)."""
    array = _checked(counts)
    k, n = array.size, int(array.sum())
    recall = np.where(array > 0, 1.0 / k, 0.0)
    f1 = [expected_f1_uniform(int(c), n, k) for c in array]
    return ChanceScores(1.0 / k, float(np.mean(f1)), float(recall.mean()))


__all__ = [
    "ChanceScores", "class_counts", "expected_f1_uniform", "majority_class", "majority_class_scores",
    "uniform_guess_scores",
]
