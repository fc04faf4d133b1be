"""Key-frame error against the truth of a synthetic twin: annotated vs a strategy's choice, and
whether the change is more than the subjects' spread."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.keyframes import KeyframeStrategy
from mer_bench.missing_apex import with_apex
from mer_bench.report.stats import MIN_SUBJECTS, TOO_FEW_SUBJECTS, Interval

KEY_FRAMES = ("onset", "apex", "offset")
# Under this many subjects a subject bootstrap has too few distinct resamples to say anything (as
# the project's comparisons rule).
CONFIDENCE = 0.95
N_RESAMPLES = 2000


def keyframe_errors(samples: Sequence[Sample], strategy: KeyframeStrategy,
                    truth: Mapping[str, KeyFrames]) -> pd.DataFrame:
    """Per sample and key frame: absolute error (frames, and as a fraction of the true span).

    The span is true offset - true onset, so an error of one span fraction is as large as the whole
    expression. A missing annotated apex counts as the one the dataset's rule fills (`with_apex`),
    the apex every strategy starts from.
    """
    rows = []
    for sample in samples:
        true = truth[sample.sample_id]
        span = max(true.offset - true.onset, 1)
        annotated = with_apex(sample)
        chosen = with_apex(sample, strategy.select(sample))
        for key in KEY_FRAMES:
            annotated_error = abs(getattr(annotated, key) - getattr(true, key))
            strategy_error = abs(getattr(chosen, key) - getattr(true, key))
            rows.append({
                "sample_id": sample.sample_id,
                "subject": sample.subject_key,
                "key_frame": key,
                "annotated_error": annotated_error,
                "strategy_error": strategy_error,
                "annotated_error_span": annotated_error / span,
                "strategy_error_span": strategy_error / span,
                "moved": getattr(chosen, key) != getattr(annotated, key),
            })
    return pd.DataFrame(rows)


def error_summary(errors: pd.DataFrame) -> pd.DataFrame:
    """Per key frame: mean absolute error, annotated vs strategy (frames and span fraction), share
    moved, and the change in error (strategy - annotated, frames) with its subject-bootstrap
    interval and verdict (`change_verdict`)."""
    summary = errors.groupby("key_frame", sort=False).agg(
        annotated_mae=("annotated_error", "mean"),
        strategy_mae=("strategy_error", "mean"),
        annotated_mae_span=("annotated_error_span", "mean"),
        strategy_mae_span=("strategy_error_span", "mean"),
        moved=("moved", "mean"),
        n=("sample_id", "count"),
        subjects=("subject", "nunique"),
    )
    intervals = {
        key: subject_bootstrap_mean(
            (group["strategy_error"] - group["annotated_error"]).to_numpy(dtype=float),
            group["subject"].to_numpy())
        for key, group in errors.groupby("key_frame", sort=False)}
    summary["change"] = [intervals[key].estimate for key in summary.index]
    summary["change_low"] = [intervals[key].low for key in summary.index]
    summary["change_high"] = [intervals[key].high for key in summary.index]
    summary["verdict"] = [change_verdict(intervals[key], int(n))
                          for key, n in summary["subjects"].items()]
    return summary.reindex(list(KEY_FRAMES))


def subject_bootstrap_mean(values: np.ndarray, subjects: Sequence[object], *,
                           n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                           seed: int = 0) -> Interval:
    """The mean of per-sample ``values`` and its percentile interval, resampling SUBJECTS.

    A subject's clips share a face, an annotator's habits and a fold, so they are not independent;
    each resample draws as many subjects as there are, with replacement, and takes the mean over
    all their samples (the cluster bootstrap of `mer_bench.report.stats`). Deterministic per ``seed``.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0 or len(subjects) != values.size:
        raise ValueError(f"need one subject per value and at least one value, got {len(subjects)} "
                         f"for {values.size}")
    _, groups = np.unique(np.asarray(subjects, dtype=object).astype(str), return_inverse=True)
    n_groups = int(groups.max()) + 1
    sums = np.bincount(groups, weights=values, minlength=n_groups)
    counts = np.bincount(groups, minlength=n_groups).astype(float)
    draws = np.random.default_rng(seed).integers(0, n_groups, size=(n_resamples, n_groups))
    # Times each subject is drawn per resample; a resample's mean is a weighted sum over subjects.
    offsets = np.arange(n_resamples)[:, None] * n_groups
    weights = np.bincount((offsets + draws).ravel(), minlength=n_resamples * n_groups
                          ).reshape(n_resamples, n_groups)
    means = (weights @ sums) / (weights @ counts)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(values.mean()) + 0.0, float(low) + 0.0, float(high) + 0.0,
                    float(np.std(means, ddof=1)))


def change_verdict(interval: Interval, subjects: int) -> str:
    """"helps" (error lower) / "hurts" (higher) only where the interval excludes 0, else "no
    change"; "too few subjects" under `MIN_SUBJECTS`, where the interval means little."""
    if subjects < MIN_SUBJECTS:
        return TOO_FEW_SUBJECTS
    if interval.high < 0:
        return "helps"
    if interval.low > 0:
        return "hurts"
    return "no change"
