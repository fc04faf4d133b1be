"""Key-frame error against the truth of a synthetic twin: annotated vs a strategy's choice."""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from mer_bench.data.sample import KeyFrames, Sample
from mer_bench.keyframes import KeyframeStrategy, with_apex

KEY_FRAMES = ("onset", "apex", "offset")


def keyframe_errors(samples: Sequence[Sample], strategy: KeyframeStrategy,
                    truth: Mapping[str, KeyFrames]) -> pd.DataFrame:
    """Per sample and key frame: absolute error (frames) of the annotation and of the strategy."""
    rows = []
    for sample in samples:
        true = truth[sample.sample_id]
        annotated = with_apex(sample.annotated)
        chosen = with_apex(strategy.select(sample))
        for key in KEY_FRAMES:
            rows.append({
                "sample_id": sample.sample_id,
                "key_frame": key,
                "annotated_error": abs(getattr(annotated, key) - getattr(true, key)),
                "strategy_error": abs(getattr(chosen, key) - getattr(true, key)),
                "moved": getattr(chosen, key) != getattr(annotated, key),
            })
    return pd.DataFrame(rows)


def error_summary(errors: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute error per key frame, annotated vs strategy, and the share of samples moved."""
    summary = errors.groupby("key_frame", sort=False).agg(
        annotated_mae=("annotated_error", "mean"),
        strategy_mae=("strategy_error", "mean"),
        moved=("moved", "mean"),
        n=("sample_id", "count"),
    )
    return summary.reindex(list(KEY_FRAMES))
