"""The text of each table cell, shared by the Markdown pages and the web site.

A leaderboard or comparison row (from ``mer_bench.report.tables`` or ``mer_bench.report.pairing``)
becomes the same strings on both: 4 decimals, ``mean ± std`` (``–`` for one seed), human-readable
parameter and FLOP counts, ``⚠`` on flags and oracle rows. Renderers add only their own markup
(links, alignment, sort keys).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mer_bench.report.pairing import DELTA_ORDER, SHARED, Kind
from mer_bench.report.ranking import ORACLE
from mer_bench.report.stats import MIN_SUBJECTS, TOO_FEW_SUBJECTS
from mer_bench.report.tables import KIND_REFERENCE

DECIMALS = 4
DASH = "–"
SCORE_LABELS = {"acc": "acc", "uf1": "UF1", "uar": "UAR"}

# Leaderboard columns (a family page's tables and the index), before any renderer's own columns
RANKED_HEADERS = ["rank", "model", "keyframes", "selection", "seeds", "samples", "subjects", "acc", "UF1", "UAR",
                  "vs top", "flags", "params", "FLOPs"]
PART_HEADERS = ["dataset", "model", "keyframes", "selection", "seeds", "samples", "subjects", "acc", "UF1", "UAR",
                "flags"]
INDEX_HEADERS = ["family", "protocol", "version", "group", "records", "samples", "subjects", "result", "rows", "UF1",
                 "UAR", "majority UF1", "chance UF1"]
NUMERIC_HEADERS = {"rank", "seeds", "samples", "subjects", "acc", "UF1", "UAR", "params", "FLOPs", "records",
                   "majority UF1", "chance UF1"}


def number(value: float) -> str:
    return f"{value:.{DECIMALS}f}"


def mean_std_text(mean: float, std: float) -> str:
    return f"{number(mean)} ± " + (DASH if pd.isna(std) else number(std))


def human_count(value: float | int | None) -> str:
    """1683 -> '1.68 K', 679776 -> '0.68 M', 13.4e9 -> '13.4 G'; None -> '–'."""
    if value is None or pd.isna(value):
        return DASH
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if value / scale >= 0.1:
            return f"{value / scale:.3g} {unit}" if value / scale < 1000 else f"{value / scale:,.0f} {unit}"
    return f"{int(value)}"


def optional_text(value: object) -> str:
    return DASH if value is None or pd.isna(value) else str(value)


def selection_text(selection: str) -> str:
    return f"{selection} ⚠" if selection == ORACLE else selection


def flags_text(flags: str) -> str:
    return f"⚠ {flags}" if flags else ""


# ---------------------------------------------------------------------------------------------
# Leaderboard rows


def scores_cells(row: pd.Series) -> list[str]:
    """acc, UF1, UAR: ``mean ± std`` for a run, the exact value for a chance reference."""
    if row["kind"] == KIND_REFERENCE:
        return [number(row[f"{c}_mean"]) for c in SCORE_LABELS]
    return [mean_std_text(row[f"{c}_mean"], row[f"{c}_std"]) for c in SCORE_LABELS]


def row_head_cells(row: pd.Series) -> list[str]:
    """model, keyframes, selection, seeds; a chance reference is named in the model column."""
    if row["kind"] == KIND_REFERENCE:
        return [row["model"], "reference", DASH, DASH]
    return [row["model"], row["keyframes"], selection_text(row["selection"]), str(row["seeds"])]


def ranked_cells(row: pd.Series) -> list[str]:
    """One row of a protocol's table, in ``RANKED_HEADERS`` order."""
    return [optional_text(row["rank"]), *row_head_cells(row), str(row["test_samples"]), str(row["test_subjects"]),
            *scores_cells(row), row["vs_top"], flags_text(row["flags"]), human_count(row["params"]),
            human_count(row["flops"])]


def part_cells(row: pd.Series) -> list[str]:
    """One row of a composite's per-dataset table, in ``PART_HEADERS`` order."""
    return [row["part"], *row_head_cells(row), str(row["test_samples"]), str(row["test_subjects"]),
            *scores_cells(row), flags_text(row["flags"])]


def index_cells(row: pd.Series) -> list[str]:
    """One line of the index (an ``index_table`` row), in ``INDEX_HEADERS`` order."""
    return [row["family"], row["protocol"], row["protocol_version"], row["group"], str(row["records"]),
            str(row["test_samples"]), str(row["test_subjects"]), row["result"], row["rows"] or DASH,
            DASH if pd.isna(row["uf1_mean"]) else mean_std_text(row["uf1_mean"], row["uf1_std"]),
            DASH if pd.isna(row["uar_mean"]) else mean_std_text(row["uar_mean"], row["uar_std"]),
            number(row["majority_uf1"]), number(row["uniform_uf1"])]


# ---------------------------------------------------------------------------------------------
# Comparison rows


def _score_text(mean: float, std: float) -> str:
    return number(mean) if np.isnan(std) else f"{number(mean)} ± {number(std)}"


def p_text(p: float) -> str:
    return DASH if pd.isna(p) else "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _delta_text(point: float, low: float, high: float) -> str:
    if pd.isna(low):
        return f"{point:+.{DECIMALS}f} [{TOO_FEW_SUBJECTS}]"
    return f"{point:+.{DECIMALS}f} [{low:+.{DECIMALS}f}, {high:+.{DECIMALS}f}]"


def _mde_text(row: pd.Series) -> str:
    if row["verdict"] == TOO_FEW_SUBJECTS or pd.isna(row["uf1_mde"]):
        return DASH
    return number(row["uf1_mde"]) + (" †" if row["subjects_differing"] < MIN_SUBJECTS else "")


def sides(table: pd.DataFrame) -> tuple[Kind, str, str]:
    """(kind, baseline, other) of a ``compare_table``."""
    return (table.attrs.get("kind", "keyframes"), table.attrs.get("baseline", "annotated"),
            table.attrs.get("other", "gamdss"))


def compare_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The shown cells of a ``compare_table``, one text column per shown column; differences carry a
    sign. ``left_columns`` names the text columns (left-aligned), the rest are numbers."""
    kind, baseline, other = sides(table)
    too_few = table["verdict"] == TOO_FEW_SUBJECTS
    shown = pd.DataFrame({
        "protocol": table["protocol"],
        "version": table["protocol_version"],
        "data": table["data"],
        "model": table["model"],
        SHARED[kind]: table[SHARED[kind]],
        "seeds": table["seeds"].astype(str),
        "samples": table["test_samples"].astype(str),
        "subjects": table["test_subjects"].astype(str),
        "differing": table["subjects_differing"].astype(str),
    })
    for score, label in SCORE_LABELS.items():
        for side in (baseline, other):
            shown[f"{label} {side}"] = [_score_text(m, s) for m, s in
                                        zip(table[f"{score}_{side}"], table[f"{score}_{side}_std"])]
    for score in DELTA_ORDER:
        shown[f"Δ{SCORE_LABELS[score]} [95% CI]"] = [
            _delta_text(d, lo, hi)
            for d, lo, hi in zip(table[f"{score}_diff"], table[f"{score}_diff_low"], table[f"{score}_diff_high"])
        ]
    shown["MDE ΔUF1"] = [_mde_text(row) for _, row in table.iterrows()]
    shown["n01"] = table["n01"].astype(str)
    shown["n10"] = table["n10"].astype(str)
    shown["p (McNemar)"] = [DASH if few else p_text(p) for p, few in zip(table["p_mcnemar"], too_few)]
    shown["p (Holm)"] = [p_text(p) for p in table["p_holm"]]
    shown["verdict"] = table["verdict"]
    return shown


def compare_left_columns(kind: Kind) -> set[str]:
    """The text (left-aligned) columns of ``compare_cells``."""
    return {"protocol", "version", "data", "model", SHARED[kind], "verdict"}


__all__ = [
    "DASH", "DECIMALS", "INDEX_HEADERS", "NUMERIC_HEADERS", "PART_HEADERS", "RANKED_HEADERS", "SCORE_LABELS",
    "compare_cells", "compare_left_columns", "flags_text", "human_count", "index_cells", "mean_std_text",
    "number", "optional_text", "p_text", "part_cells", "ranked_cells", "row_head_cells", "scores_cells",
    "selection_text", "sides",
]
