"""Where reselection helped, hurt or could not be told (``reselection-summary.md``).

One page over two measurements: the paired annotated-vs-gamdss comparison of the records (does a
model classify better on reselected frames?) and the truth study of the twins
(``reselection/truth-errors.csv`` from ``mer-bench reselection-study``: are the reselected frames
closer to the true ones?). The first is per protocol, data source and model; the second per
dataset, so each comparison row carries the truth-study verdicts of its protocol's datasets.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import pandas as pd
from tabulate import tabulate

from mer_bench.files import write_if_changed
from mer_bench.protocols import get_protocol
from mer_bench.report.stats import TOO_FEW_SUBJECTS

SUMMARY_PAGE = "reselection-summary.md"
TRUTH_CSV = Path("reselection") / "truth-errors.csv"
KEY_FRAMES = ("onset", "apex", "offset")
# A comparison's verdict (other = gamdss against baseline = annotated), in the page's words
VERDICT_WORDS = {"better": "helped", "worse": "hurt", "no evidence": "could not be told",
                 TOO_FEW_SUBJECTS: "too few subjects"}


def read_truth(results_dir: Path) -> pd.DataFrame | None:
    """The truth study's ``gamdss`` rows under the native annotator, or None without a study."""
    path = Path(results_dir) / TRUTH_CSV
    if not path.is_file():
        return None
    study = pd.read_csv(path)
    return study[(study["variant"] == "native") & (study["strategy"] == "gamdss")]


def _truth_text(truth: pd.DataFrame | None, dataset: str) -> str:
    """'onset helps, apex helps, offset no change' for ``dataset``; '–' where not studied."""
    if truth is None:
        return "–"
    rows = truth[truth["dataset"] == dataset].set_index("key_frame")
    if rows.empty:
        return "–"
    return ", ".join(f"{frame} {rows.loc[frame, 'verdict']} ({rows.loc[frame, 'change']:+.2f})"
                     for frame in KEY_FRAMES if frame in rows.index)


def _interval(row: Mapping[str, object]) -> str:
    diff, low, high = (float(row[k]) for k in ("uf1_diff", "uf1_diff_low", "uf1_diff_high"))
    if math.isnan(low):
        return f"{diff:+.4f}"
    return f"{diff:+.4f} [{low:+.4f}, {high:+.4f}]"


def _mde(row: Mapping[str, object]) -> str:
    mde = float(row["uf1_mde"])
    return "–" if math.isnan(mde) else f"{mde:.4f}"


def _tally(words: pd.Series) -> str:
    counts = words.value_counts()
    return ", ".join(f"{counts.get(word, 0)} {word}" for word in
                     ("helped", "hurt", "could not be told", "too few subjects"))


def _labelled(table: pd.DataFrame) -> pd.DataFrame:
    """Honest-selection rows with the verdict in the page's words and the row's datasets; a
    composite part's row is labelled 'protocol [part]' and carries that dataset alone."""
    table = table[table["selection"] == "fixed-epochs"].copy()
    table["word"] = table["verdict"].map(VERDICT_WORDS).fillna(table["verdict"])
    if "part" in table:
        table["label"] = table["protocol"] + " [" + table["part"] + " part]"
        table["datasets"] = [(part,) for part in table["part"]]
    else:
        table["label"] = table["protocol"]
        table["datasets"] = [get_protocol(str(p)).datasets for p in table["protocol"]]
    return table


def summary_markdown(comparison: pd.DataFrame, truth: pd.DataFrame | None,
                     parts: pd.DataFrame | None = None) -> str:
    """The page: the verdict matrix (protocol × model, then each composite part × model), then each
    row with its numbers and the truth study's verdicts on the same datasets."""
    table = _labelled(comparison)
    part_rows = _labelled(parts) if parts is not None and not parts.empty else table.iloc[0:0]
    both = pd.concat([table, part_rows], ignore_index=True)
    models = sorted(both["model"].unique())
    matrix = []
    for rows in (table, part_rows):
        for (label, data), group in rows.groupby(["label", "data"], sort=True):
            by_model = {row["model"]: f"{row['word']} ({float(row['uf1_diff']):+.3f})"
                        for _, row in group.iterrows()}
            matrix.append([label, data, *[by_model.get(model, "–") for model in models]])
    detail = []
    for rows in (table, part_rows):
        for _, row in rows.sort_values(["label", "data", "model"]).iterrows():
            truth_text = "; ".join(f"{name}: {_truth_text(truth, name)}" for name in row["datasets"])
            detail.append([row["label"], row["data"], row["model"], int(row["seeds"]),
                           int(row["test_samples"]), int(row["test_subjects"]), _interval(row),
                           _mde(row), row["word"], truth_text])
    tally = f"Over {len(table)} protocol rows: {_tally(table['word'])}."
    if len(part_rows):
        tally += (f" Over the {len(part_rows)} rows of composite parts (each dataset of the MEGC2019 "
                  f"composite scored on its own samples of the pooled predictions, as MEGC2019 "
                  f"reports them; Holm across these rows): {_tally(part_rows['word'])}.")
    page = [
        "# Does reselection help? Every model, every protocol",
        f"Per protocol, data source and model: ΔUF1 = gamdss − annotated key frames, with its 95% "
        f"subject-bootstrap interval; **helped** / **hurt** only where the interval excludes 0 "
        f"and the Holm-corrected McNemar test agrees; **could not be told** otherwise (which does "
        f"not show that the two are equal: the minimum detectable ΔUF1 says how large a "
        f"difference the row could have seen); **too few subjects** under 5 test subjects. "
        f"Honest selection (fixed epochs) only. {tally}",
        "## Verdicts (ΔUF1)",
        tabulate(matrix, headers=["protocol", "data", *models], tablefmt="pipe",
                 disable_numparse=True),
        "## Each row, beside the truth study",
        "The last column is the truth study's verdict on the same datasets (twins at the study's "
        "scale, native annotator: the bias this project injected, see reselection.md): does "
        "`gamdss` move each key frame closer to the truth (helps, change in frames negative) or "
        "further (hurts)? Closer key frames that give no detectable ΔUF1 say the model's inputs "
        "were not the bottleneck at this size, or the difference is below what the row could "
        "detect.",
        tabulate(detail, headers=["protocol", "data", "model", "seeds", "samples", "subjects",
                                  "ΔUF1 [95% CI]", "detectable", "verdict",
                                  "key frames vs truth (gamdss − annotated)"],
                 tablefmt="pipe", disable_numparse=True),
        "Generated by `mer-bench leaderboard` from the records and "
        f"`{TRUTH_CSV.as_posix()}`; the full comparison is compare/annotated-vs-gamdss.md, the "
        "truth study reselection.md.",
    ]
    if truth is None:
        page.insert(-1, "No truth study in this results folder: run `mer-bench "
                        "reselection-study` to fill the last column.")
    return "\n\n".join(page) + "\n"


def write_reselection_summary(comparison: pd.DataFrame, results_dir: Path,
                              parts: pd.DataFrame | None = None) -> Path:
    """Write ``reselection-summary.md`` under ``results_dir``; returns its path."""
    path = Path(results_dir) / SUMMARY_PAGE
    write_if_changed(path, summary_markdown(comparison, read_truth(results_dir), parts))
    return path


__all__ = ["SUMMARY_PAGE", "VERDICT_WORDS", "read_truth", "summary_markdown",
           "write_reselection_summary"]
