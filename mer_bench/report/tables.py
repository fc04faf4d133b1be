"""The leaderboard as data frames, built from result records alone.

``leaderboard_table``: one row per (protocol, data source, model, keyframes, selection) holding the
``mean ± std`` of its seeds, how much data stands behind it (test samples, subjects, class counts),
its comparable group, rank, paired standing against the group's top row and flags
(``mer_bench.report.ranking``), plus the unranked chance references of each table
(``mer_bench.report.chance``). A composite protocol adds the same rows for each dataset's part of
the pooled predictions (the MEGC2019 per-dataset scores). ``index_table`` condenses it to one line
per (data source, protocol, comparable group): best row, tied rows, or why there is none.

Nothing here formats text or writes files; ``mer_bench.report.markdown`` renders these tables.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from mer_bench.errors import DataError, UnknownNameError
from mer_bench.metrics import Metrics, pooled_metrics
from mer_bench.report.chance import (
    ChanceScores,
    class_counts,
    majority_class,
    majority_class_scores,
    uniform_guess_scores,
)
from mer_bench.report.checks import TableKey, check_records
from mer_bench.report.ranking import (
    FLAG_ORACLE,
    TIED,
    TOP,
    Candidate,
    TopComparisons,
    assign_ranks,
    group_label,
    group_order,
    row_flags,
)
from mer_bench.report.sources import data_source_group
from mer_bench.report.stats import BOOTSTRAP_SEED, N_RESAMPLES, TOO_FEW_SUBJECTS
from mer_bench.store import JobResult

CONFUSION_DIR = "plots/confusion"
OTHER_FAMILY = "other"  # protocols no longer registered
KIND_RUN = "run"
KIND_REFERENCE = "reference"
MAJORITY = "majority class"
UNIFORM = "uniform guessing"
SCORES = {"acc": "accuracy", "uf1": "uf1", "uar": "uar"}

TABLE_COLUMNS = [
    "family", "protocol", "protocol_title", "protocol_version", "classes", "data", "data_source", "part",
    "kind", "model", "keyframes", "selection", "seeds", "group", "rank", "vs_top", "flags",
    "test_samples", "test_subjects", "class_counts",
    "acc_mean", "acc_std", "uf1_mean", "uf1_std", "uar_mean", "uar_std", "params", "flops",
    "top_diff_uf1", "top_diff_low", "top_diff_high", "top_mde_uf1", "top_p_holm",
    "protocol_hash", "seed_list", "config_hashes", "git_commits", "package_versions", "records", "confusion",
]
INDEX_COLUMNS = [
    "data", "data_source", "family", "protocol", "protocol_version", "group", "selection", "records", "test_samples",
    "test_subjects", "result", "rows", "top_rows", "uf1_mean", "uf1_std", "uar_mean", "uar_std", "majority_uf1",
    "uniform_uf1",
]
BEST, TIED_RESULT, ONLY_ROW, NO_ROW, ORACLE_ONLY = (
    "best", "tied", "only row", "no row beats chance", "oracle rows only")

RowKey = tuple[str, str, str]  # model, keyframes, selection
PlotKey = tuple[str, str, str, str, str]  # data source, protocol, model, keyframes, selection


@dataclass(frozen=True)
class ProtocolInfo:
    family: str
    title: str


@lru_cache(maxsize=None)
def protocol_info(protocol_id: str) -> ProtocolInfo:
    """Family and title of a registered protocol; family 'other' for one that is not registered any more."""
    from mer_bench.protocols import get_protocol

    try:
        protocol = get_protocol(protocol_id)
    except UnknownNameError:
        return ProtocolInfo(OTHER_FAMILY, protocol_id)
    return ProtocolInfo(protocol.family, protocol.title)


# ---------------------------------------------------------------------------------------------
# Test sets and the predictions of a row, aligned sample by sample


@dataclass(frozen=True)
class TestSet:
    """The samples a table was scored on, sorted by sample id."""

    sample_ids: np.ndarray
    y_true: np.ndarray
    subjects: np.ndarray

    @classmethod
    def of(cls, predictions: pd.DataFrame) -> TestSet:
        frame = predictions.sort_values("sample_id", kind="stable")
        return cls(frame["sample_id"].to_numpy(str), frame["y_true"].to_numpy(np.int64),
                   frame["subject"].astype(str).to_numpy())

    @property
    def n_samples(self) -> int:
        return int(self.sample_ids.size)

    @property
    def n_subjects(self) -> int:
        return len(set(self.subjects))

    def part(self, dataset: str) -> TestSet:
        keep = dataset_of(self.sample_ids) == dataset
        return TestSet(self.sample_ids[keep], self.y_true[keep], self.subjects[keep])

    def predictions(self, run: JobResult) -> np.ndarray:
        """``run``'s predicted class indices in this test set's order."""
        return run.predictions.set_index("sample_id")["y_pred"].reindex(self.sample_ids).to_numpy(np.int64)


def dataset_of(sample_ids: Iterable[str]) -> np.ndarray:
    """The dataset of each sample id ('casme2/sub01/EP02_01f' -> 'casme2')."""
    return np.array([sample_id.split("/", 1)[0] for sample_id in sample_ids], dtype=object)


def composite_parts(test_set: TestSet) -> list[str]:
    """The datasets of a composite or cross-dataset test set; empty for a single dataset."""
    names = sorted(set(dataset_of(test_set.sample_ids)))
    return names if len(names) > 1 else []


# ---------------------------------------------------------------------------------------------
# Row values


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    # fmean / stdev are exactly rounded, so the result does not depend on summation order
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else math.nan)


def _scores(metrics: Sequence[Metrics | ChanceScores]) -> dict[str, float]:
    row = {}
    for column, attribute in SCORES.items():
        row[f"{column}_mean"], row[f"{column}_std"] = _mean_std([getattr(m, attribute) for m in metrics])
    return row


def _counts_text(counts: np.ndarray, classes: Sequence[str]) -> str:
    return ", ".join(f"{name}: {int(count)}" for name, count in zip(classes, counts))


def _data_behind(test_set: TestSet, classes: Sequence[str]) -> dict[str, object]:
    return {"test_samples": test_set.n_samples, "test_subjects": test_set.n_subjects,
            "class_counts": _counts_text(class_counts(test_set.y_true, len(classes)), classes)}


def _trace(runs: Sequence[JobResult], records_root: str) -> dict[str, str]:
    """Trace columns; seed_list, config_hashes and records are aligned seed by seed."""
    versions = sorted({" ".join(f"{k}={v}" for k, v in sorted(run.package_versions.items())) for run in runs})
    return {
        "protocol_hash": runs[0].protocol_hash,
        "seed_list": " ".join(str(run.cell.seed) for run in runs),
        "config_hashes": " ".join(run.config_hash for run in runs),
        "git_commits": " ".join(sorted({run.git_commit or "unknown" for run in runs})),
        "package_versions": " | ".join(versions),
        "records": " ".join(f"{records_root}/{run.cell.relpath.as_posix()}" for run in runs),
    }


def _no_trace() -> dict[str, str]:
    return dict.fromkeys(("protocol_hash", "seed_list", "config_hashes", "git_commits", "package_versions",
                          "records", "confusion"), "")


def _standing(candidate: Candidate | None) -> dict[str, object]:
    """rank, vs_top and the paired test against the group's top row."""
    nothing = {"rank": None, "vs_top": "", "top_diff_uf1": math.nan, "top_diff_low": math.nan,
               "top_diff_high": math.nan, "top_mde_uf1": math.nan, "top_p_holm": math.nan}
    if candidate is None:
        return nothing
    row = {**nothing, "rank": candidate.rank, "vs_top": candidate.vs_top}
    test = candidate.top_test
    if test is not None:
        row["top_diff_uf1"] = candidate.top_diff
        row["top_p_holm"] = candidate.top_p_holm
        if test.intervals is not None:
            row["top_diff_low"] = test.intervals["uf1"].low
            row["top_diff_high"] = test.intervals["uf1"].high
            row["top_mde_uf1"] = math.nan if test.mde_uf1 is None else test.mde_uf1
    return row


def _reference_rows(common: dict, test_set: TestSet, classes: Sequence[str], part: str) -> list[dict]:
    counts = class_counts(test_set.y_true, len(classes))
    references = [
        (f"{MAJORITY} ({classes[majority_class(counts)]})", majority_class_scores(counts)),
        (f"{UNIFORM} (expected)", uniform_guess_scores(counts)),
    ]
    return [{**common, "part": part, "kind": KIND_REFERENCE, "model": name, "keyframes": "", "selection": "",
             "seeds": None, "group": "", **_standing(None), "flags": "", **_data_behind(test_set, classes),
             **_scores([scores]), "params": None, "flops": None, **_no_trace()}
            for name, scores in references]


# ---------------------------------------------------------------------------------------------
# One table: a protocol on a data source


class _ProtocolTable:
    """The rows of one protocol on one data source; ranks are set on construction, standings
    against the top row once ``TopComparisons.settle`` has run."""

    def __init__(self, key: TableKey, runs: Sequence[JobResult], plots: dict[PlotKey, str], records_root: str,
                 comparisons: TopComparisons, n_resamples: int) -> None:
        self.protocol, self.data_source = key
        self.records_root = records_root
        self.classes = list(runs[0].metrics.classes)
        self.test_set = TestSet.of(runs[0].predictions)
        self.info = protocol_info(self.protocol)
        self.group = data_source_group(self.data_source)
        grouped: dict[RowKey, list[JobResult]] = defaultdict(list)
        for run in runs:
            grouped[(run.cell.model, run.cell.keyframes, run.cell.selection)].append(run)
        self.runs = {key: sorted(group, key=lambda run: run.cell.seed) for key, group in grouped.items()}
        self.plots = {key: plots[(self.data_source, self.protocol, *key)] for key in self.runs}
        majority_uf1, uniform_uf1 = _reference_uf1(self.test_set, len(self.classes))
        candidates = []
        for key, seeds in self.runs.items():
            predictions = np.stack([self.test_set.predictions(run) for run in seeds])
            uf1 = statistics.fmean(run.metrics.uf1 for run in seeds)
            uar = statistics.fmean(run.metrics.uar for run in seeds)
            flags = row_flags(selection=key[2], single_class=_single_class(predictions), uf1_mean=uf1,
                              majority_uf1=majority_uf1, uniform_uf1=uniform_uf1)
            candidates.append(Candidate(key, key[2], len(seeds), uf1, uar, flags, predictions))
        self.candidates = assign_ranks(candidates)
        comparisons.add_table(self.candidates, self.test_set.y_true, self.test_set.subjects, len(self.classes),
                              n_resamples=n_resamples, seed=BOOTSTRAP_SEED)

    @property
    def sort_key(self) -> tuple:
        return (self.info.family, self.group.order, self.protocol, self.data_source)

    def _common(self, runs: Sequence[JobResult]) -> dict[str, object]:
        return {"family": self.info.family, "protocol": self.protocol, "protocol_title": self.info.title,
                "protocol_version": runs[0].protocol_version, "classes": ", ".join(self.classes),
                "data": self.group.label, "data_source": self.data_source}

    def _run_row(self, candidate: Candidate, part: str, test_set: TestSet) -> dict[str, object]:
        model, keyframes, selection = candidate.name
        runs = self.runs[candidate.name]
        flops = [run.flops for run in runs if run.flops is not None]
        if part:
            metrics = [pooled_metrics(test_set.y_true, test_set.predictions(run), self.classes) for run in runs]
            predictions = np.stack([test_set.predictions(run) for run in runs])
            majority_uf1, uniform_uf1 = _reference_uf1(test_set, len(self.classes))
            flags = row_flags(selection=selection, single_class=_single_class(predictions),
                              uf1_mean=statistics.fmean(m.uf1 for m in metrics), majority_uf1=majority_uf1,
                              uniform_uf1=uniform_uf1)
            standing, confusion = _standing(None), ""
        else:
            metrics = [run.metrics for run in runs]
            flags, standing, confusion = candidate.flags, _standing(candidate), self.plots[candidate.name]
        return {**self._common(runs), "part": part, "kind": KIND_RUN, "model": model, "keyframes": keyframes,
                "selection": selection, "seeds": len(runs), "group": group_label(selection, len(runs)),
                **standing, "flags": "; ".join(flags), **_data_behind(test_set, self.classes),
                **_scores(metrics), "params": max(run.param_count for run in runs),
                "flops": max(flops) if flops else None, **_trace(runs, self.records_root), "confusion": confusion}

    def rows(self) -> list[dict[str, object]]:
        """Main rows in page order, then the references; then the same per composite part."""
        first_runs = next(iter(self.runs.values()))
        rows = [self._run_row(candidate, "", self.test_set) for candidate in self.candidates]
        rows += _reference_rows(self._common(first_runs), self.test_set, self.classes, "")
        for part in composite_parts(self.test_set):
            part_set = self.test_set.part(part)
            rows += [self._run_row(candidate, part, part_set) for candidate in self.candidates]
            rows += _reference_rows(self._common(first_runs), part_set, self.classes, part)
        return rows


def _reference_uf1(test_set: TestSet, n_classes: int) -> tuple[float, float]:
    """UF1 of the majority-class reference and expected UF1 of uniform guessing on ``test_set``."""
    counts = class_counts(test_set.y_true, n_classes)
    return majority_class_scores(counts).uf1, uniform_guess_scores(counts).uf1


def _single_class(predictions: np.ndarray) -> bool:
    """Every seed (row) predicts one class for every sample."""
    return bool((predictions == predictions[:, :1]).all())


# ---------------------------------------------------------------------------------------------
# Plot paths


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def _file_part(name: str) -> str:
    safe = _UNSAFE.sub("_", name)
    return "_" + safe[1:] if safe.startswith(".") else safe


def confusion_paths(keys: Iterable[PlotKey]) -> dict[PlotKey, str]:
    """Plot path (relative to the results folder) of each (data source, protocol, model, keyframes,
    selection): ``plots/confusion/<data source slug>/<protocol>/<model>__<keyframes>__<selection>.png``;
    'timm:resnet18' -> 'timm_resnet18'. Names that only differ in replaced characters would share a
    file: those get a hash suffix."""
    keys = list(keys)
    plain = {key: f"{CONFUSION_DIR}/{data_source_group(key[0]).slug}/{_file_part(key[1])}/"
                  + "__".join(map(_file_part, key[2:])) for key in keys}
    taken: dict[str, int] = defaultdict(int)
    for path in plain.values():
        taken[path] += 1
    paths = {}
    for key, path in plain.items():
        if taken[path] > 1:
            path += "-" + hashlib.sha256("\0".join(key).encode("utf-8")).hexdigest()[:8]
        paths[key] = path + ".png"
    return paths


def plot_key(result: JobResult) -> PlotKey:
    cell = result.cell
    return result.data_source, cell.protocol, cell.model, cell.keyframes, cell.selection


# ---------------------------------------------------------------------------------------------
# The tables


def leaderboard_table(results: Sequence[JobResult], *, records_root: str = "records",
                      n_resamples: int = N_RESAMPLES) -> pd.DataFrame:
    """Every leaderboard row, unrounded, in page order (``TABLE_COLUMNS``).

    ``kind`` is 'run' for a model's row and 'reference' for the chance references; ``part`` is
    empty for a row's pooled scores and names the dataset for a composite's part rows. ``rank``
    counts within the row's comparable ``group`` and is empty for flagged, oracle, part and
    reference rows; ``vs_top`` says whether the group's top row beats the row with evidence
    ('below'), not ('tied'), or cannot tell ('too few subjects'); the ``top_*`` columns hold that
    paired test (ΔUF1 = top − row, its interval and MDE, Holm-adjusted McNemar p). ``records`` are
    record directories below ``records_root``, aligned with ``seed_list`` and ``config_hashes``;
    ``confusion`` is the row's plot path relative to the results folder.
    """
    if not results:
        raise DataError("no result records to tabulate; run `mer-bench run --all` first")
    tables = check_records(results)
    plots = confusion_paths(sorted({plot_key(result) for result in results}))
    comparisons = TopComparisons()
    built = sorted((_ProtocolTable(key, runs, plots, records_root, comparisons, n_resamples)
                    for key, runs in tables.items()), key=lambda table: table.sort_key)
    comparisons.settle()
    table = pd.DataFrame([row for protocol_table in built for row in protocol_table.rows()], columns=TABLE_COLUMNS)
    for column in ("rank", "seeds", "params", "flops"):
        table[column] = table[column].astype("Int64")
    return table


def _row_name(row: pd.Series) -> str:
    return f"{row['model']} · {row['keyframes']} · {row['selection']}"


def _index_line(rows: pd.DataFrame, references: pd.DataFrame) -> dict[str, object]:
    """One comparable group of one table: its best row, its tied top rows, or why there is none."""
    first = rows.iloc[0]
    ranked = rows[rows["rank"].notna()]
    line = {"data": first["data"], "data_source": first["data_source"], "family": first["family"],
            "protocol": first["protocol"], "protocol_version": first["protocol_version"], "group": first["group"],
            "selection": first["selection"], "records": int(rows["seeds"].sum()), "test_samples": int(first["test_samples"]),
            "test_subjects": int(first["test_subjects"]),
            "majority_uf1": float(references.iloc[0]["uf1_mean"]), "uniform_uf1": float(references.iloc[1]["uf1_mean"])}
    if ranked.empty:
        oracle = (rows["flags"].str.split("; ").map(lambda flags: FLAG_ORACLE in flags)).all()
        return {**line, "result": ORACLE_ONLY if oracle else NO_ROW, "rows": "", "top_rows": (),
                "uf1_mean": math.nan, "uf1_std": math.nan, "uar_mean": math.nan, "uar_std": math.nan}
    top = ranked.iloc[0]
    level = ranked[ranked["vs_top"].isin([TOP, TIED, TOO_FEW_SUBJECTS])]
    if len(ranked) == 1:
        result = ONLY_ROW
    elif len(level) == 1:
        result = BEST
    else:
        result = TIED_RESULT + (f" ({TOO_FEW_SUBJECTS})" if (level["vs_top"] == TOO_FEW_SUBJECTS).any() else "")
    return {**line, "result": result, "rows": "; ".join(_row_name(row) for _, row in level.iterrows()),
            "top_rows": tuple((row["model"], row["keyframes"], row["selection"]) for _, row in level.iterrows()),
            "uf1_mean": top["uf1_mean"], "uf1_std": top["uf1_std"], "uar_mean": top["uar_mean"],
            "uar_std": top["uar_std"]}


def index_table(table: pd.DataFrame) -> pd.DataFrame:
    """One line per (data source, protocol table, comparable group) of a ``leaderboard_table``, ordered
    by data source, family, protocol and group (``INDEX_COLUMNS``). Oracle groups get a line only
    where a table has nothing else. ``rows`` names the top rows ('model · keyframes · selection',
    '; '-separated); ``top_rows`` holds the same as (model, keyframes, selection) tuples."""
    main = table[table["part"] == ""]
    lines = []
    for (_, data_source), rows in main.groupby(["protocol", "data_source"], sort=False):
        runs = rows[rows["kind"] == KIND_RUN]
        references = rows[rows["kind"] == KIND_REFERENCE]
        honest = runs[runs["selection"] != "oracle"]
        chosen = honest if len(honest) else runs
        for _, group in chosen.groupby("group", sort=False):
            lines.append(_index_line(group, references))
    frame = pd.DataFrame(lines, columns=INDEX_COLUMNS)
    order = [(data_source_group(line["data_source"]).order, line["family"], line["protocol"], line["data_source"])
             for line in lines]
    return frame.iloc[sorted(range(len(lines)), key=lambda i: order[i])].reset_index(drop=True)


def table_csv(table: pd.DataFrame) -> str:
    """CSV text of a table: floats written in full (shortest round-trip form)."""
    return table.to_csv(index=False, lineterminator="\n")


__all__ = [
    "BEST", "CONFUSION_DIR", "INDEX_COLUMNS", "KIND_REFERENCE", "KIND_RUN", "MAJORITY", "NO_ROW",
    "ONLY_ROW", "ORACLE_ONLY", "ProtocolInfo", "TABLE_COLUMNS", "TIED_RESULT", "TestSet", "UNIFORM",
    "composite_parts", "confusion_paths", "dataset_of", "index_table", "leaderboard_table", "plot_key",
    "protocol_info", "table_csv",
]
