"""Paired comparison of two keyframe strategies (e.g. annotated vs GAMDSS) on the same protocol, model and seeds.

``paired_results`` is the seam for statistics: it hands over, per (protocol, model), the records of
both strategies matched seed by seed, each with its per-sample predictions, which is what a
subject-level paired bootstrap or an exact McNemar test needs. ``compare_table`` currently reports
seed means and their differences only; confidence intervals and p-values (``mer_bench.stats``) will
be added as further columns computed from the same pairs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from mer_bench.errors import ConfigError, DataError, MerBenchError
from mer_bench.report.leaderboard import text_columns
from mer_bench.store import JobResult

SCORES = {"acc": "accuracy", "uf1": "uf1", "uar": "uar"}
DECIMALS = 4

PairKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class CellPair:
    """Records of two strategies for one (protocol, version, model, selection), aligned by seed."""

    protocol: str
    protocol_version: str
    model: str
    selection: str
    seeds: tuple[int, ...]
    baseline: tuple[JobResult, ...]
    other: tuple[JobResult, ...]


def _by_strategy(results: Sequence[JobResult]) -> dict[str, dict[PairKey, dict[int, JobResult]]]:
    grouped: dict[str, dict[PairKey, dict[int, JobResult]]] = defaultdict(lambda: defaultdict(dict))
    for result in results:
        key = (result.cell.protocol, result.protocol_version, result.cell.model, result.selection_mode)
        grouped[result.cell.keyframes][key][result.cell.seed] = result
    return grouped


def _check_comparable(baseline: JobResult, other: JobResult) -> None:
    # A paired comparison is only meaningful when the two runs differ in the keyframe strategy alone.
    if baseline.protocol_hash != other.protocol_hash:
        raise DataError(
            f"{baseline.cell.cell_id} and {other.cell.cell_id} used different protocol data "
            "(protocol_hash differs); re-run the older cell"
        )
    if set(baseline.predictions["sample_id"]) != set(other.predictions["sample_id"]):
        raise DataError(
            f"{baseline.cell.cell_id} and {other.cell.cell_id} predicted different samples; "
            "re-run both cells on the same data"
        )


def paired_results(results: Sequence[JobResult], baseline: str = "annotated", other: str = "gamdss") -> list[CellPair]:
    """Match records of ``other`` with records of ``baseline`` per (protocol, version, model, selection) and seed.

    Only seeds run with both strategies are kept; a (protocol, model) run with one strategy only is
    left out. Raises MerBenchError when a strategy has no records at all (naming the strategies
    present) or when nothing can be paired.
    """
    if baseline == other:
        raise ConfigError(f"cannot compare keyframe strategy {baseline!r} with itself; pick two different ones")
    grouped = _by_strategy(results)
    present = ", ".join(sorted(grouped)) or "none"
    for strategy in (baseline, other):
        if strategy not in grouped:
            raise MerBenchError(
                f"keyframe strategy {strategy!r} has no result records (strategies present: {present}); "
                "run its cells first or pick one of those"
            )
    pairs = []
    for key in sorted(set(grouped[baseline]) & set(grouped[other])):
        seeds = tuple(sorted(set(grouped[baseline][key]) & set(grouped[other][key])))
        if not seeds:
            continue
        base_runs = tuple(grouped[baseline][key][seed] for seed in seeds)
        other_runs = tuple(grouped[other][key][seed] for seed in seeds)
        for base_run, other_run in zip(base_runs, other_runs):
            _check_comparable(base_run, other_run)
        pairs.append(CellPair(*key, seeds=seeds, baseline=base_runs, other=other_runs))
    if not pairs:
        raise MerBenchError(
            f"no (protocol, model) has records for both {baseline!r} and {other!r} on the same seed; "
            "run the missing cells first"
        )
    return pairs


def _mean_score(runs: Sequence[JobResult], attribute: str) -> float:
    return sum(getattr(run.metrics, attribute) for run in runs) / len(runs)


def compare_table(results: Sequence[JobResult], baseline: str = "annotated", other: str = "gamdss") -> pd.DataFrame:
    """Seed-matched means of acc / UF1 / UAR for both strategies and their difference (other - baseline).

    Columns: protocol, protocol_version, model, selection, seeds, then for each score
    ``<score>_<baseline>``, ``<score>_<other>``, ``<score>_diff``. Differences are taken between the
    unrounded means, then everything is rounded to 4 decimals.
    """
    rows = []
    for pair in paired_results(results, baseline, other):
        row: dict[str, object] = {
            "protocol": pair.protocol,
            "protocol_version": pair.protocol_version,
            "model": pair.model,
            "selection": pair.selection,
            "seeds": len(pair.seeds),
        }
        for score, attribute in SCORES.items():
            base_mean = _mean_score(pair.baseline, attribute)
            other_mean = _mean_score(pair.other, attribute)
            row[f"{score}_{baseline}"] = round(base_mean, DECIMALS)
            row[f"{score}_{other}"] = round(other_mean, DECIMALS)
            # "+ 0.0" turns a rounded -0.0 into 0.0, which would otherwise print as "-0.0000".
            row[f"{score}_diff"] = round(other_mean - base_mean, DECIMALS) + 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def format_compare(table: pd.DataFrame) -> str:
    """Markdown for a ``compare_table``; differences carry an explicit sign."""
    float_formats = [f"+.{DECIMALS}f" if column.endswith("_diff") else f".{DECIMALS}f" for column in table.columns]
    return table.to_markdown(
        index=False, tablefmt="pipe", floatfmt=float_formats, disable_numparse=text_columns(table)
    ) + "\n"
