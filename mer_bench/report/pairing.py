"""Paired comparison tables: two sides of the benchmark on the same protocol, data, model, seeds and
test samples, differing in exactly one thing.

* ``kind="keyframes"``: two keyframe strategies (e.g. annotated vs GAMDSS reselection), per
  (protocol, data source, model, selection mode);
* ``kind="selection"``: two selection modes (e.g. fixed-epochs vs oracle, which measures how much
  picking the epoch on the test subject inflates results), per (protocol, data source, model,
  keyframe strategy).

Runs are matched seed by seed. Each row reports how much data stands behind it (test samples,
subjects, subjects where the sides disagree), both sides' seed means, the paired differences with a
subject-bootstrap interval and the minimum detectable ΔUF1, an exact McNemar test, a Holm adjustment
across rows and a verdict (``mer_bench.report.stats``); fewer than ``MIN_SUBJECTS`` test subjects
give no interval, MDE, adjusted p or verdict, only "too few subjects".
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from mer_bench.errors import ConfigError, MerBenchError
from mer_bench.metrics import pooled_metrics
from mer_bench.protocols import get_protocol
from mer_bench.report.checks import check_paired, check_protocol_versions
from mer_bench.report.sources import data_source_group
from mer_bench.report.stats import BOOTSTRAP_SEED, N_RESAMPLES, PairedTest, holm, paired_test, verdict
from mer_bench.store import JobResult

Kind = Literal["keyframes", "selection"]

SCORES = {"acc": "accuracy", "uf1": "uf1", "uar": "uar"}
DELTA_ORDER = ("uf1", "uar", "acc")
DECIMALS = 4

# Per kind: the cell field that differs between the two sides, and the one both sides share.
SHARED = {"keyframes": "selection", "selection": "keyframes"}
SIDE_WORDS = {"keyframes": ("keyframe strategy", "strategies"), "selection": ("selection mode", "selection modes")}

PairKey = tuple[str, str, str, str]  # (protocol, data source, model, shared field value)


@dataclass(frozen=True)
class CellPair:
    """Records of the two sides for one (protocol, data source, model, shared setting), aligned by seed.

    ``shared`` is the value both sides have in common: the selection mode when keyframe strategies
    are compared, the keyframe strategy when selection modes are.
    """

    protocol: str
    protocol_version: str
    data_source: str
    model: str
    shared: str
    seeds: tuple[int, ...]
    baseline: tuple[JobResult, ...]
    other: tuple[JobResult, ...]


def _side(result: JobResult, kind: Kind) -> str:
    return getattr(result.cell, kind)


def check_kind(kind: str) -> None:
    if kind not in SHARED:
        raise ConfigError(f"unknown comparison kind {kind!r}; use one of {', '.join(SHARED)}")


def paired_results(
    results: Sequence[JobResult], baseline: str = "annotated", other: str = "gamdss", *, kind: Kind = "keyframes"
) -> list[CellPair]:
    """Match the ``other`` side's records with the ``baseline`` side's, per (protocol, data source,
    model, shared) and seed.

    Only seeds run on both sides are kept; a (protocol, data source, model, shared) run on one side
    only is left out, and records on different data sources are never paired. Raises MerBenchError
    when there are no records, a side has no records (naming the values present), one protocol's
    records on one data source come from different protocol versions or hashes, the paired runs did
    not predict exactly the same samples, or nothing can be paired.
    """
    check_kind(kind)
    word, plural = SIDE_WORDS[kind]
    if not results:
        raise MerBenchError("no result records to compare; run `mer-bench run` first")
    if baseline == other:
        raise ConfigError(f"cannot compare {word} {baseline!r} with itself; pick two different ones")
    present = sorted({_side(result, kind) for result in results})
    for name in (baseline, other):
        if name not in present:
            raise MerBenchError(
                f"{word} {name!r} has no result records ({plural} present: {', '.join(present)}); "
                "run its cells first or pick one of those"
            )
    involved = [result for result in results if _side(result, kind) in (baseline, other)]
    check_protocol_versions(involved)

    grouped: dict[str, dict[PairKey, dict[int, JobResult]]] = defaultdict(lambda: defaultdict(dict))
    for result in involved:
        key = (result.cell.protocol, result.data_source, result.cell.model, getattr(result.cell, SHARED[kind]))
        grouped[_side(result, kind)][key][result.cell.seed] = result
    pairs = []
    for key in sorted(set(grouped[baseline]) & set(grouped[other]),
                      key=lambda k: (k[0], data_source_group(k[1]).order, k[1], k[2], k[3])):
        seeds = tuple(sorted(set(grouped[baseline][key]) & set(grouped[other][key])))
        if not seeds:
            continue
        base_runs = tuple(grouped[baseline][key][seed] for seed in seeds)
        other_runs = tuple(grouped[other][key][seed] for seed in seeds)
        # Every run is checked against one reference, so all seeds of both sides share one sample set.
        for run in (*base_runs[1:], *other_runs):
            check_paired(base_runs[0], run)
        protocol, data_source, model, shared = key
        pairs.append(CellPair(protocol, base_runs[0].protocol_version, data_source, model, shared, seeds,
                              base_runs, other_runs))
    if not pairs:
        raise MerBenchError(
            f"no (protocol, data source, model, {SHARED[kind]}) has records of both {baseline!r} and {other!r} "
            "on the same seed; run the missing cells first"
        )
    return pairs


def _prediction_arrays(pair: CellPair) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """y_true, subjects, baseline predictions (seeds, n), other predictions (seeds, n), in one sample order."""
    reference = pair.baseline[0].predictions.set_index("sample_id")
    order = reference.index

    def stacked(runs: Sequence[JobResult]) -> np.ndarray:
        return np.stack([run.predictions.set_index("sample_id")["y_pred"].reindex(order).to_numpy(np.int64)
                         for run in runs])

    return (reference["y_true"].to_numpy(np.int64), reference["subject"].astype(str).to_numpy(),
            stacked(pair.baseline), stacked(pair.other))


def _mean_std(runs: Sequence[JobResult], attribute: str) -> tuple[float, float]:
    values = np.array([getattr(run.metrics, attribute) for run in runs], dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else float("nan")


def _rounded(value: float | None) -> float:
    # "+ 0.0" turns a rounded -0.0 into 0.0, which would otherwise print as "-0.0000".
    return math.nan if value is None else round(value, DECIMALS) + 0.0


def _row(pair: CellPair, baseline: str, other: str, kind: Kind, n_resamples: int,
         seed: int, records_root: str) -> tuple[dict[str, object], PairedTest]:
    y_true, subjects, base_preds, other_preds = _prediction_arrays(pair)
    n_classes = len(pair.baseline[0].metrics.classes)
    test = paired_test(y_true, base_preds, other_preds, subjects, n_classes, n_resamples=n_resamples, seed=seed)
    row: dict[str, object] = {
        "protocol": pair.protocol,
        "protocol_version": pair.protocol_version,
        "data": data_source_group(pair.data_source).label,
        "data_source": pair.data_source,
        "model": pair.model,
        SHARED[kind]: pair.shared,
        "seeds": len(pair.seeds),
        "test_samples": test.n_samples,
        "test_subjects": test.n_subjects,
        "subjects_differing": test.subjects_differing,
    }
    for score, attribute in SCORES.items():
        base_mean, base_std = _mean_std(pair.baseline, attribute)
        other_mean, other_std = _mean_std(pair.other, attribute)
        row[f"{score}_{baseline}"] = round(base_mean, DECIMALS)
        row[f"{score}_{baseline}_std"] = round(base_std, DECIMALS)
        row[f"{score}_{other}"] = round(other_mean, DECIMALS)
        row[f"{score}_{other}_std"] = round(other_std, DECIMALS)
    for score in DELTA_ORDER:
        # The point estimate is the difference of the seed means shown (the records' own metrics);
        # the interval comes from re-scoring their predictions on resampled subjects.
        point = _mean_std(pair.other, SCORES[score])[0] - _mean_std(pair.baseline, SCORES[score])[0]
        interval = None if test.intervals is None else test.intervals[score]
        row[f"{score}_diff"] = _rounded(point)
        row[f"{score}_diff_low"] = _rounded(None if interval is None else interval.low)
        row[f"{score}_diff_high"] = _rounded(None if interval is None else interval.high)
    row["uf1_se"] = _rounded(None if test.intervals is None else test.intervals["uf1"].se)
    row["uf1_mde"] = _rounded(test.mde_uf1)
    row.update(n01=test.mcnemar.n01, n10=test.mcnemar.n10, p_mcnemar=test.mcnemar.p)
    row.update({
        "protocol_hash": pair.baseline[0].protocol_hash,
        "seed_list": " ".join(map(str, pair.seeds)),
        f"cells_{baseline}": " ".join(run.cell.cell_id for run in pair.baseline),
        f"cells_{other}": " ".join(run.cell.cell_id for run in pair.other),
        f"config_hashes_{baseline}": " ".join(run.config_hash for run in pair.baseline),
        f"config_hashes_{other}": " ".join(run.config_hash for run in pair.other),
        f"records_{baseline}": " ".join(f"{records_root}/{run.cell.relpath.as_posix()}" for run in pair.baseline),
        f"records_{other}": " ".join(f"{records_root}/{run.cell.relpath.as_posix()}" for run in pair.other),
    })
    return row, test


def _add_verdicts(table: pd.DataFrame, tests: Sequence[PairedTest]) -> None:
    """Insert ``p_holm`` (Holm across the rows with enough subjects) and ``verdict`` after
    ``p_mcnemar``; ``tests`` are the rows' paired tests, in order."""
    testable = [i for i, test in enumerate(tests) if not test.too_few_subjects]
    adjusted = np.full(len(tests), np.nan)
    if testable:
        adjusted[testable] = holm([tests[i].mcnemar.p for i in testable])
    table.insert(table.columns.get_loc("p_mcnemar") + 1, "p_holm", adjusted)
    table.insert(table.columns.get_loc("p_holm") + 1, "verdict",
                 [verdict(test, p) for test, p in zip(tests, adjusted)])


def compare_table(
    results: Sequence[JobResult],
    baseline: str = "annotated",
    other: str = "gamdss",
    *,
    kind: Kind = "keyframes",
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    records_root: str = "records",
) -> pd.DataFrame:
    """One row per paired (protocol, data source, model, shared setting); differences are other - baseline.

    Columns: protocol, protocol_version, data (the data source's short label), data_source (its full
    description), model, the shared field (``selection`` or ``keyframes``), seeds, test_samples,
    test_subjects, subjects_differing (subjects with a sample the sides predict differently); per
    score (acc, uf1, uar) ``<score>_<side>`` and ``<score>_<side>_std`` (seed mean and ddof=1 std,
    NaN for one seed); per score ``<score>_diff`` with its bootstrap interval ``<score>_diff_low`` /
    ``<score>_diff_high``; ``uf1_se`` (bootstrap standard error of ΔUF1) and ``uf1_mde`` (minimum
    detectable ΔUF1, NaN when the sides never disagree); ``n01``, ``n10``, ``p_mcnemar``,
    ``p_holm`` (Holm across the rows with a verdict), ``verdict``; then the trace columns
    protocol_hash, seed_list, ``cells_<side>``, ``config_hashes_<side>`` and ``records_<side>`` (record
    folders below ``records_root``, aligned with seed_list). With fewer than
    ``MIN_SUBJECTS`` test subjects the interval, SE, MDE and ``p_holm`` are NaN and the verdict is
    "too few subjects". Scores are rounded to 4 decimals, p-values are not.
    """
    pairs = paired_results(results, baseline, other, kind=kind)
    built = [_row(pair, baseline, other, kind, n_resamples, seed, records_root) for pair in pairs]
    table = pd.DataFrame([row for row, _ in built])
    _add_verdicts(table, [test for _, test in built])
    table.attrs.update(kind=kind, baseline=baseline, other=other)
    return table


def _part_of(sample_ids: Sequence[str]) -> np.ndarray:
    """Each composite sample's dataset: the first component of its id ('samm/006_1_2' -> 'samm')."""
    return np.array([str(sample_id).split("/", 1)[0] for sample_id in sample_ids], dtype=object)


def _part_row(pair: CellPair, part: str, baseline: str, other: str, n_resamples: int,
              seed: int) -> tuple[dict[str, object], PairedTest]:
    """The paired comparison of one composite part: both sides' pooled predictions restricted to
    the part's samples and scored there, as MEGC2019 scores each dataset of its composite."""
    y_true, subjects, base_preds, other_preds = _prediction_arrays(pair)
    order = pair.baseline[0].predictions["sample_id"].to_numpy()
    keep = _part_of(order) == part
    classes = pair.baseline[0].metrics.classes
    y, groups = y_true[keep], subjects[keep]
    base, oth = base_preds[:, keep], other_preds[:, keep]
    test = paired_test(y, base, oth, groups, len(classes), n_resamples=n_resamples, seed=seed)
    row: dict[str, object] = {
        "protocol": pair.protocol, "part": part, "data": data_source_group(pair.data_source).label,
        "data_source": pair.data_source, "model": pair.model, "selection": pair.shared,
        "seeds": len(pair.seeds), "test_samples": test.n_samples, "test_subjects": test.n_subjects,
        "subjects_differing": test.subjects_differing,
    }
    for score, attribute in SCORES.items():
        base_values = [getattr(pooled_metrics(y, run, classes), attribute) for run in base]
        other_values = [getattr(pooled_metrics(y, run, classes), attribute) for run in oth]
        row[f"{score}_{baseline}"] = round(float(np.mean(base_values)), DECIMALS)
        row[f"{score}_{other}"] = round(float(np.mean(other_values)), DECIMALS)
        interval = None if test.intervals is None else test.intervals[score]
        row[f"{score}_diff"] = _rounded(float(np.mean(other_values)) - float(np.mean(base_values)))
        row[f"{score}_diff_low"] = _rounded(None if interval is None else interval.low)
        row[f"{score}_diff_high"] = _rounded(None if interval is None else interval.high)
    row["uf1_mde"] = _rounded(test.mde_uf1)
    row.update(n01=test.mcnemar.n01, n10=test.mcnemar.n10, p_mcnemar=test.mcnemar.p,
               seed_list=" ".join(map(str, pair.seeds)))
    return row, test


def part_table(
    results: Sequence[JobResult],
    baseline: str = "annotated",
    other: str = "gamdss",
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """The keyframe comparison of every composite protocol (MEGC2019), once per dataset part.

    One row per (composite protocol, data source, model, selection, part), with the columns of
    ``compare_table`` that make sense per part (``part`` added, trace columns and stds left out):
    each side's seed-mean scores on the part's samples of the pooled predictions, the paired
    differences with their subject-bootstrap intervals, the minimum detectable ΔUF1, McNemar, Holm
    across these rows and the verdict. Empty when no composite protocol has both sides.
    """
    pairs = [pair for pair in paired_results(results, baseline, other, kind="keyframes")
             if get_protocol(pair.protocol).evaluation == "composite-loso"]
    built = [_part_row(pair, part, baseline, other, n_resamples, seed)
             for pair in pairs for part in get_protocol(pair.protocol).datasets]
    table = pd.DataFrame([row for row, _ in built])
    if table.empty:
        return table
    _add_verdicts(table, [test for _, test in built])
    return table


__all__ = ["CellPair", "DELTA_ORDER", "Kind", "SHARED", "SIDE_WORDS", "check_kind", "compare_table",
           "paired_results", "part_table"]
