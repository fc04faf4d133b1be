"""Honest ranking of the rows of one protocol table.

* Rows are ranked only against rows of their **comparable group**: the same selection mode and the
  same number of seeds (a one-seed tuned row and a three-seed row are not ranked together).
  Oracle rows (best epoch chosen on the test subject) are never ranked.
* A row is **eligible** for a rank only when its mean UF1 beats both chance references (majority
  class, and the expected UF1 of uniform guessing) and it does not predict a single class for every
  sample in every seed; other rows are flagged and unranked.
* Ranks order eligible rows by mean UF1 (then UAR). A rank alone shows no difference: the top row
  of each group is compared with every other eligible row of its group by the paired subject
  bootstrap and exact McNemar test of ``mer_bench.report.stats`` (Holm-adjusted across every such
  comparison of the leaderboard). A row the top row does not beat with evidence is **tied** with it;
  a group has a **best** row only when its top row beats every other eligible row with evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from mer_bench.report.stats import (
    BOOTSTRAP_SEED,
    N_RESAMPLES,
    TOO_FEW_SUBJECTS,
    PairedTest,
    holm,
    paired_test,
    verdict,
)
from mer_bench.store import SELECTION_MODES

ORACLE = "oracle"
FLAG_ORACLE = "oracle"
FLAG_ONE_CLASS = "one class"
FLAG_NOT_ABOVE_MAJORITY = "≤ majority"
FLAG_NOT_ABOVE_CHANCE = "≤ chance"

TOP, TIED, BELOW = "top", "tied", "below"


def group_label(selection: str, seeds: int) -> str:
    """The comparable group of a row: 'fixed-epochs · 3 seeds'."""
    return f"{selection} · {seeds} seed{'s' if seeds != 1 else ''}"


def group_order(selection: str, seeds: int) -> tuple:
    """Honest groups first (in ``SELECTION_MODES`` order, most seeds first), oracle groups last."""
    known = SELECTION_MODES.index(selection) if selection in SELECTION_MODES else len(SELECTION_MODES)
    return (selection == ORACLE, known, selection, -seeds)


def row_flags(*, selection: str, single_class: bool, uf1_mean: float, majority_uf1: float,
              uniform_uf1: float) -> list[str]:
    """Why a row cannot be ranked: oracle selection, one class predicted for every sample in every
    seed, or a mean UF1 that does not beat the majority-class reference or the expected UF1 of
    uniform guessing."""
    flags = [FLAG_ORACLE] if selection == ORACLE else []
    if single_class:
        flags.append(FLAG_ONE_CLASS)
    # rounded so that float noise cannot lift a majority-class predictor above its own reference
    if round(uf1_mean, 12) <= round(majority_uf1, 12):
        flags.append(FLAG_NOT_ABOVE_MAJORITY)
    if round(uf1_mean, 12) <= round(uniform_uf1, 12):
        flags.append(FLAG_NOT_ABOVE_CHANCE)
    return flags


@dataclass
class Candidate:
    """One row of a protocol table, as ranking sees it. ``predictions``: (seeds, samples) class
    indices in the table's sample order. Ranking fills ``rank``, ``vs_top`` and ``top_test``."""

    name: tuple[str, ...]
    selection: str
    seeds: int
    uf1: float
    uar: float
    flags: list[str]
    predictions: np.ndarray
    rank: int | None = None
    vs_top: str = ""
    top_test: PairedTest | None = None
    top_diff: float = math.nan  # mean UF1 of the top row minus this row's
    top_p_holm: float = math.nan

    @property
    def group(self) -> tuple:
        return group_order(self.selection, self.seeds)

    @property
    def eligible(self) -> bool:
        return not self.flags


def ordered(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Page order: by group; eligible rows by UF1 then UAR then name, then the others by UF1."""
    return sorted(candidates, key=lambda c: (c.group, not c.eligible, -round(c.uf1, 12), -round(c.uar, 12),
                                             c.name))


def assign_ranks(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Competition ranks (1, 1, 3) within each comparable group; returns the rows in page order."""
    rows = ordered(candidates)
    previous: dict[tuple, tuple[tuple[float, float], int, int]] = {}  # group -> (score, rank, position)
    for row in rows:
        if not row.eligible:
            continue
        score = (round(row.uf1, 12), round(row.uar, 12))
        last = previous.get(row.group)
        position = 1 if last is None else last[2] + 1
        row.rank = last[1] if last is not None and last[0] == score else position
        previous[row.group] = (score, row.rank, position)
    return rows


@dataclass
class TopComparisons:
    """Every top-vs-row comparison of a leaderboard, collected so that Holm can adjust them together."""

    pending: list[Candidate] = field(default_factory=list)

    def add_table(self, rows: Sequence[Candidate], y_true: np.ndarray, subjects: np.ndarray, n_classes: int,
                  *, n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> None:
        """Test the top row of each group of one table (ranked by ``assign_ranks``) against each
        other eligible row of that group."""
        groups: dict[tuple, list[Candidate]] = {}
        for row in rows:
            if row.rank is not None:
                groups.setdefault(row.group, []).append(row)
        for members in groups.values():
            top, *others = members
            top.vs_top = TOP
            for row in others:
                # baseline = the row, other = the top row: a "better" verdict means the top row wins
                row.top_test = paired_test(y_true, row.predictions, top.predictions, subjects, n_classes,
                                           n_resamples=n_resamples, seed=seed)
                row.top_diff = top.uf1 - row.uf1
                self.pending.append(row)

    def settle(self) -> None:
        """Holm-adjust the McNemar p-values of the tests that have a verdict; mark each row
        'below' (the top row beats it with evidence), 'tied', or 'too few subjects'."""
        testable = [row for row in self.pending if not row.top_test.too_few_subjects]
        adjusted = holm([row.top_test.mcnemar.p for row in testable]) if testable else []
        for row, p in zip(testable, adjusted):
            row.top_p_holm = float(p)
        for row in self.pending:
            outcome = verdict(row.top_test, row.top_p_holm)
            row.vs_top = BELOW if outcome == "better" else TOO_FEW_SUBJECTS if outcome == TOO_FEW_SUBJECTS else TIED


__all__ = [
    "BELOW", "Candidate", "FLAG_NOT_ABOVE_CHANCE", "FLAG_NOT_ABOVE_MAJORITY", "FLAG_ONE_CLASS", "FLAG_ORACLE", "TIED", "TOP",
    "TopComparisons", "assign_ranks", "group_label", "group_order", "ordered", "row_flags",
]
