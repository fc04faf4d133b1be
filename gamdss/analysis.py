"""Key-frame error against the truth of a synthetic twin: annotated vs a strategy's choice."""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.keyframes import KeyframeStrategy
from mer_bench.missing_apex import with_apex

KEY_FRAMES = ("onset", "apex", "offset")


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
                "key_frame": key,
                "annotated_error": annotated_error,
                "strategy_error": strategy_error,
                "annotated_error_span": annotated_error / span,
                "strategy_error_span": strategy_error / span,
                "moved": getattr(chosen, key) != getattr(annotated, key),
            })
    return pd.DataFrame(rows)


def error_summary(errors: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute error per key frame, annotated vs strategy (frames and span fraction), share moved."""
    summary = errors.groupby("key_frame", sort=False).agg(
        annotated_mae=("annotated_error", "mean"),
        strategy_mae=("strategy_error", "mean"),
        annotated_mae_span=("annotated_error_span", "mean"),
        strategy_mae_span=("strategy_error_span", "mean"),
        moved=("moved", "mean"),
        n=("sample_id", "count"),
    )
    return summary.reindex(list(KEY_FRAMES))
