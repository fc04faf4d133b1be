"""How far a reselection strategy moves annotated key frames: per-sample table, per-dataset summary.

A shift is reselected - annotated in frames (negative: moved earlier), measured from the search's
start (`Reselection.start`: the annotation, a missing apex filled). No truth is needed, so this runs
on real data; the GAMDSS paper reads larger offset shifts than onset shifts as more uncertain offset
annotation, which the summary's ``offset/onset`` column puts side by side.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from gamdss.selection import Reselection
from mer_bench.data.sample import Sample

KEY_FRAMES = ("onset", "apex", "offset")


def shift_table(samples: Sequence[Sample], results: Iterable[Reselection]) -> pd.DataFrame:
    """One row per sample: annotated, start and reselected key frames, shifts, fallback, windows."""
    by_id = {s.sample_id: s for s in samples}
    rows = []
    for result in results:
        sample = by_id[result.sample_id]
        row: dict[str, object] = {"dataset": sample.dataset, "sample_id": result.sample_id,
                                  "subject": sample.subject, "clip": sample.clip}
        for key in KEY_FRAMES:
            row[f"annotated_{key}"] = getattr(result.annotated, key)
        for key in KEY_FRAMES:
            row[f"reselected_{key}"] = getattr(result.selected, key)
        for key in KEY_FRAMES:
            row[f"{key}_shift"] = result.shift(key)
        row["annotated_span"] = result.start.offset - result.start.onset
        row["apex_filled"] = result.apex_filled or ""
        row["fallback"] = result.fallback or ""
        row["window"], row["offset_window"] = result.windows
        rows.append(row)
    table = pd.DataFrame(rows)
    # Missing apexes stay missing in the annotated column (nullable integers, written blank).
    return table.astype({"annotated_apex": "Int64"}) if len(table) else table


def shift_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and key frame: n, mean / median / sd / IQR of the shift, mean |shift|, moved."""
    rows = []
    for dataset, group in table.groupby("dataset", sort=True):
        for key in KEY_FRAMES:
            shifts = group[f"{key}_shift"].to_numpy(dtype=float)
            q1, q3 = np.percentile(shifts, [25, 75])
            rows.append({
                "dataset": dataset, "key_frame": key, "n": len(shifts),
                "mean_shift": shifts.mean(), "median_shift": float(np.median(shifts)),
                "sd_shift": shifts.std(ddof=1) if len(shifts) > 1 else 0.0,
                "iqr_shift": q3 - q1, "mean_abs_shift": np.abs(shifts).mean(),
                "moved": float(np.mean(shifts != 0)),
            })
    return pd.DataFrame(rows)


def uncertainty_ratio(summary: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: mean abs offset shift / mean abs onset shift, and the same for the share moved."""
    rows = []
    for dataset, group in summary.groupby("dataset", sort=True):
        by_key = group.set_index("key_frame")
        onset_abs, offset_abs = by_key.loc["onset", "mean_abs_shift"], by_key.loc["offset", "mean_abs_shift"]
        onset_moved, offset_moved = by_key.loc["onset", "moved"], by_key.loc["offset", "moved"]
        rows.append({
            "dataset": dataset,
            "offset/onset mean abs shift": offset_abs / onset_abs if onset_abs else float("nan"),
            "offset/onset moved": offset_moved / onset_moved if onset_moved else float("nan"),
        })
    return pd.DataFrame(rows)


def fallback_counts(table: pd.DataFrame) -> Counter[str]:
    """Samples that kept annotated frames, by reason, plus how missing apexes were filled."""
    counts: Counter[str] = Counter(r for r in table["fallback"] if r)
    counts.update(f"apex filled by {how}" for how in table["apex_filled"] if how)
    return counts


def summary_markdown(summary: pd.DataFrame, table: pd.DataFrame, *, title: str,
                     plots: Sequence[str] = ()) -> str:
    """The summary, the offset/onset ratio, fallbacks and plot links as one markdown document."""
    shown = summary.rename(columns={
        "key_frame": "key frame", "mean_shift": "mean", "median_shift": "median",
        "sd_shift": "sd", "iqr_shift": "IQR", "mean_abs_shift": "mean abs shift",
        "moved": "moved (share)"})
    lines = [f"# {title}", "",
             "Shift = reselected - annotated key frame, in frames (negative: earlier).", "",
             shown.to_markdown(index=False, floatfmt=".2f"), "",
             "## Offset vs onset uncertainty", "",
             uncertainty_ratio(summary).to_markdown(index=False, floatfmt=".2f"), ""]
    counts = fallback_counts(table)
    lines += ["## Annotated frames kept (fallbacks) and missing apexes filled", ""]
    if counts:
        lines += [f"- {reason}: {count} of {len(table)} samples" for reason, count in sorted(counts.items())]
    else:
        lines.append(f"- none: every one of {len(table)} samples was searched in full")
    lines.append("")
    if plots:
        lines += ["## Shift histograms", ""] + [f"![shifts]({p})" for p in plots] + [""]
    return "\n".join(lines)
