"""Checks that refuse to average, rank or pair records that are not comparable.

A table holds the records of one protocol on one data source (``table_key``). Within it, every
record must come from one protocol version and hash, one class list, and must have predicted the
same test samples with the same labels and subjects: otherwise a mean over seeds, a rank or a
paired test would compare numbers computed on different things. Each failure is one line naming
the cells and what to do.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

from mer_bench.errors import DataError
from mer_bench.store import JobResult

SHORT_HASH = 12

TableKey = tuple[str, str]  # (protocol, data source description)


def table_key(result: JobResult) -> TableKey:
    """The table a record belongs in: its protocol on its data source."""
    return result.cell.protocol, result.data_source


def some(items: Sequence[str], shown: int = 3) -> str:
    """The first ``shown`` of ``items`` in sorted order, then how many more."""
    items = sorted(items)
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def _one_variant(protocol: str, runs: Sequence[JobResult], what: str,
                 variant: Callable[[JobResult], str]) -> None:
    groups: dict[str, list[str]] = defaultdict(list)
    for run in runs:
        groups[variant(run)].append(run.cell.cell_id)
    if len(groups) > 1:
        listed = "; ".join(f"{name} in {some(cells)}" for name, cells in sorted(groups.items()))
        raise DataError(
            f"protocol {protocol}: records mix {what} ({listed}); re-run the stale cells or delete "
            "their records, so that only one remains"
        )


def _test_set(run: JobResult) -> frozenset:
    frame = run.predictions
    return frozenset(zip(frame["sample_id"], frame["y_true"].astype(int), frame["subject"].astype(str)))


def check_table(protocol: str, runs: Sequence[JobResult]) -> None:
    """Raise DataError unless ``runs`` (one protocol on one data source) share one protocol version
    and hash, one class list and one test set (sample ids, labels, subjects)."""
    _one_variant(protocol, runs, "protocol versions",
                 lambda r: f"version {r.protocol_version} hash {r.protocol_hash}")
    _one_variant(protocol, runs, "class lists", lambda r: "[" + ", ".join(r.metrics.classes) + "]")
    for run in runs:
        if run.predictions["sample_id"].duplicated().any():
            raise DataError(f"{run.cell.cell_id} predicts some samples twice; re-run that cell")
    reference = runs[0]
    expected = _test_set(reference)
    for run in runs[1:]:
        if _test_set(run) != expected:
            raise DataError(
                f"protocol {protocol}: {reference.cell.cell_id} and {run.cell.cell_id} scored different "
                "test samples, labels or subjects on the same data; re-run the stale cell"
            )


def check_records(results: Sequence[JobResult]) -> dict[TableKey, list[JobResult]]:
    """Validate ``results`` and group them by table (protocol, data source), cells in order.

    Raises DataError for two records of one cell on one data source, a selection mode differing
    from the cell's, or a table failing ``check_table``. Records on different data sources are
    never compared, so they may differ in anything.
    """
    seen: set[tuple[str, str]] = set()
    tables: dict[TableKey, list[JobResult]] = defaultdict(list)
    for result in results:
        cell_id = result.cell.cell_id
        if (cell_id, result.data_source) in seen:
            raise DataError(f"two records for cell {cell_id} on {result.data_source}; keep one")
        seen.add((cell_id, result.data_source))
        if result.selection_mode != result.cell.selection:
            raise DataError(f"{cell_id}: selection_mode {result.selection_mode!r} differs from the cell's "
                            f"{result.cell.selection!r}; re-run that cell")
        tables[table_key(result)].append(result)
    for (protocol, _), runs in tables.items():
        runs.sort(key=lambda run: run.cell.cell_id)
        check_table(protocol, runs)
    return dict(sorted(tables.items()))


def check_paired(baseline: JobResult, other: JobResult) -> None:
    """Raise DataError unless the two runs scored the same samples with the same labels, subjects,
    classes and data source, so that their predictions can be paired sample by sample."""
    where = f"{baseline.cell.cell_id} and {other.cell.cell_id}"
    if baseline.data_source != other.data_source:
        raise DataError(f"{where} ran on different data ({baseline.data_source} vs {other.data_source}); "
                        "re-run one of them on the other's data")
    if baseline.metrics.classes != other.metrics.classes:
        raise DataError(f"{where} have different class lists; re-run both cells with the same protocol")
    left, right = baseline.predictions, other.predictions
    for run, frame in ((baseline, left), (other, right)):
        if frame["sample_id"].duplicated().any():
            raise DataError(f"{run.cell.cell_id} predicts some samples twice; re-run that cell")
    only_left = set(left["sample_id"]) - set(right["sample_id"])
    only_right = set(right["sample_id"]) - set(left["sample_id"])
    if only_left or only_right:
        example = sorted(only_left or only_right)[0]
        raise DataError(
            f"{where} predicted different samples ({len(only_left)} only in the first, {len(only_right)} "
            f"only in the second, e.g. {example}); re-run both cells on the same data"
        )
    merged = left.merge(right, on="sample_id", suffixes=("_a", "_b"))
    for column in ("y_true", "subject"):
        differs = merged.loc[merged[f"{column}_a"] != merged[f"{column}_b"], "sample_id"]
        if len(differs):
            raise DataError(f"{where} disagree on {column} for {len(differs)} samples (e.g. {differs.iloc[0]}); "
                            "re-run both cells on the same data")


def check_protocol_versions(results: Sequence[JobResult]) -> None:
    """Raise DataError when one protocol's records on one data source come from different protocol
    versions or hashes (or sample lists under one version), naming which records are which."""
    variants: dict[TableKey, dict[tuple[str, str], list[str]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        variants[table_key(result)][(result.protocol_version, result.protocol_hash)].append(result.cell.cell_id)
    for (protocol, _), found in sorted(variants.items()):
        if len(found) < 2:
            continue
        described = "; ".join(f"version {version} hash {digest[:SHORT_HASH]} in {some(cells)}"
                              for (version, digest), cells in sorted(found.items()))
        raise DataError(f"protocol {protocol}: records come from different protocol data ({described}); "
                        "re-run the stale cells or remove their records")


__all__ = ["TableKey", "check_paired", "check_protocol_versions", "check_records", "check_table", "some",
           "table_key"]
