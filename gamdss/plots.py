"""PNG plots of reselection: shift histograms per key frame, truth-study errors per strategy."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

KEY_FRAMES = ("onset", "apex", "offset")


def _pyplot():
    # Agg: no display on servers and CI; imported lazily so the strategies never load matplotlib.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_shift_histograms(table: pd.DataFrame, dataset: str, path: Path, *, title: str) -> Path:
    """One histogram per key frame of ``dataset``'s shifts (reselected - annotated, frames)."""
    plt = _pyplot()
    rows = table[table["dataset"] == dataset]
    figure, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
    for axis, key in zip(axes, KEY_FRAMES, strict=True):
        shifts = rows[f"{key}_shift"].to_numpy(dtype=int)
        low, high = (int(shifts.min()), int(shifts.max())) if len(shifts) else (0, 0)
        # One bar per integer shift, centred on it.
        bins = np.arange(min(low, 0) - 0.5, max(high, 0) + 1.5)
        axis.hist(shifts, bins=bins, color="#4477aa", edgecolor="white")
        axis.axvline(0, color="black", linewidth=0.8)
        axis.set_title(f"{key}: moved {np.mean(shifts != 0):.0%}" if len(shifts) else key)
        axis.set_xlabel("shift (frames)")
    axes[0].set_ylabel("samples")
    figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)


def plot_truth_errors(study: pd.DataFrame, dataset: str, strategies: Sequence[str], path: Path) -> Path:
    """Grouped bars: mean absolute error against truth per annotator variant and key frame."""
    plt = _pyplot()
    rows = study[study["dataset"] == dataset]
    variants = list(dict.fromkeys(rows["variant"]))
    labels = ["annotated", *strategies]
    figure, axes = plt.subplots(1, len(variants), figsize=(3.8 * len(variants), 3.6),
                                sharey=True, squeeze=False)
    width = 0.8 / len(labels)
    colours = plt.get_cmap("tab10")
    for axis, variant in zip(axes[0], variants, strict=True):
        part = rows[rows["variant"] == variant]
        for index, label in enumerate(labels):
            heights = [_mae(part, label, key) for key in KEY_FRAMES]
            axis.bar(np.arange(3) + (index - (len(labels) - 1) / 2) * width, heights, width,
                     label=label, color=colours(index))
        axis.set_xticks(np.arange(3), KEY_FRAMES)
        axis.set_title(variant)
    axes[0][0].set_ylabel("mean |error| vs truth (frames)")
    handles, names = axes[0][0].get_legend_handles_labels()
    # Below the panels, so that no bar is hidden behind it.
    figure.legend(handles, names, loc="lower center", ncol=len(labels), fontsize="small")
    figure.suptitle(f"{dataset}: key-frame error against the twin's truth")
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return _save(figure, path)


def _mae(part: pd.DataFrame, label: str, key: str) -> float:
    if label == "annotated":
        # Every strategy row repeats the annotated error; take the first.
        return float(part[part["key_frame"] == key]["annotated_mae"].iloc[0])
    match = part[(part["strategy"] == label) & (part["key_frame"] == key)]
    return float(match["strategy_mae"].iloc[0])


def _save(figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    # Figures stay open in pyplot's registry until closed; a long study would leak them.
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path
